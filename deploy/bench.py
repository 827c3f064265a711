"""Benchmark the teacher and students 0-3 as TFLite networks: size, latency, arena.

Each model is converted twice (float32, int8 PT2E) as the `outside` variant, the network the
node runs after its numpy frontend. Latency is the median of many single-window invocations
after a warm-up, with 1 and 2 interpreter threads; the frontend's numpy cost per window is
measured separately per frontend configuration. Weights are random unless a weight file is
given: timing and size do not depend on them.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from deploy.arena import arena_bytes
from deploy.node.threads import NODE_ENV
from sea.bundle import TFLiteModel
from sea.configs import FrontendConfig, get_config
from sea.frontend import LogMelFrontend
from sea.manifest import atomic_write_bytes, sha256_file
from sea.quantization import Quantization
from sea.timing import median_latency_ms

log = logging.getLogger(__name__)

TEACHER = "openl3-mel256-env"
STUDENTS = ("student0", "student1", "student2", "student3")


@dataclass
class BenchRow:
    model: str
    quantization: str  # Quantization.label
    size_bytes: int
    latency_ms_1t: float
    latency_ms_2t: float
    arena_bytes: int
    arena_method: str
    cosine_vs_torch: float  # mean over the check windows; int8 quality at a glance

    def scheme(self) -> Quantization:
        return Quantization.parse(self.quantization)


def model_latency_ms(path: Path, threads: int, budget_s: float) -> float:
    model = TFLiteModel(path, num_threads=threads)
    x = np.random.default_rng(0).uniform(-80, 0, size=model.input_shape).astype(np.float32)
    return median_latency_ms(lambda: model(x), budget_s=budget_s)


def frontend_latency_ms(cfg: FrontendConfig, budget_s: float) -> float:
    frontend = LogMelFrontend(cfg)
    window = np.random.default_rng(0).standard_normal((1, cfg.window_samples)).astype(np.float32)
    return median_latency_ms(lambda: frontend(window), budget_s=budget_s)


def bench_model(name: str, work_dir: Path, weights: str | Path | None = None,
                calibration_windows: int = 32, check_windows: int = 8,
                budget_s: float = 3.0) -> list[BenchRow]:
    """Convert `name` to float32 and int8 TFLite in `work_dir` and measure both."""
    from deploy import convert
    from deploy.exporter import tflite_embed, torch_embed, torch_logmel
    from deploy.parity import cosine
    from deploy.representative import generated_windows, stress_windows
    import torch

    from training.checkpoint import build_model

    torch.manual_seed(0)  # random weights must be the same ones as the cached .tflite files
    model = build_model(name, weights=weights, pretrained=False, dft_mode="matmul")
    rate = model.cfg.frontend.sample_rate
    windows = generated_windows(rate, calibration_windows + check_windows, seed=0).windows
    calibration = np.concatenate([windows[:calibration_windows], stress_windows(rate)])
    check = windows[calibration_windows:]
    reference = torch_embed(model, check)
    frontend = LogMelFrontend(model.cfg.frontend, mel_basis=model.frontend.mel_basis.numpy()
                              if model.frontend.mel_basis.numel() else None)
    files = {Quantization.FLOAT32: lambda: convert.convert_float(model, "outside"),
             Quantization.INT8: lambda: convert.convert_int8(
                 model, convert.quantize_body(model, torch_logmel(model, calibration)), "outside")}
    # cached files are only reused for the same weights (seeded random ones included)
    weights_tag = sha256_file(weights)[:12] if weights else "seed0"
    rows = []
    for quantization, build in files.items():
        path = work_dir / f"{name}_{weights_tag}_{quantization.label}.tflite"
        if not path.is_file():  # re-runs reuse converted files
            log.info("converting %s (%s)", name, quantization.label)
            atomic_write_bytes(path, build())
        arena, method = arena_bytes(path)
        cos = cosine(reference, tflite_embed(TFLiteModel(path), check, frontend)).mean()
        rows.append(BenchRow(name, quantization.label, path.stat().st_size,
                             round(model_latency_ms(path, 1, budget_s), 4),
                             round(model_latency_ms(path, 2, budget_s), 4),
                             arena, method, round(float(cos), 6)))
        log.info("%s", rows[-1])
    return rows


def ratios(rows: list[BenchRow], teacher: str = TEACHER) -> list[dict]:
    """Float teacher over each row: speed-up (1 thread), size and arena reductions."""
    base = next(r for r in rows if r.model == teacher and r.scheme() is Quantization.FLOAT32)
    return [{"model": r.model, "quantization": r.quantization,
             "speedup_1t": round(base.latency_ms_1t / r.latency_ms_1t, 1),
             "speedup_2t": round(base.latency_ms_2t / r.latency_ms_2t, 1),
             "size_reduction": round(base.size_bytes / r.size_bytes, 1),
             "arena_reduction": round(base.arena_bytes / r.arena_bytes, 1)} for r in rows]


def frontend_costs(names: list[str], budget_s: float = 2.0) -> dict[str, float]:
    """Numpy frontend ms per window, once per distinct frontend configuration."""
    costs: dict[str, float] = {}
    seen: dict[FrontendConfig, float] = {}
    for name in names:
        cfg = get_config(name).frontend
        if cfg not in seen:
            seen[cfg] = round(frontend_latency_ms(cfg, budget_s), 3)
        costs[name] = seen[cfg]
    return costs


def frontend_costs_as_on_node(names: list[str], budget_s: float = 2.0) -> dict[str, float]:
    """`frontend_costs` in a fresh process with single-threaded BLAS, as sea-node runs it
    (a multi-threaded BLAS pool makes one small mel matmul 10-40x slower on a busy CPU)."""
    code = ("import json, sys; from deploy.bench import frontend_costs; "
            f"print(json.dumps(frontend_costs({names!r}, {budget_s})))")
    env = {**os.environ, **NODE_ENV}
    result = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                            capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def rows_as_dicts(rows: list[BenchRow]) -> list[dict]:
    return [asdict(r) for r in rows]
