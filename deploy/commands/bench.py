"""Benchmark the teacher (openl3-mel256-env) and students 0-3 as float32 and int8 TFLite.

Per model and quantization: file size, per-window latency with 1 and 2 threads (median of
many warmed-up runs; the network only, the numpy frontend's cost is printed separately),
activation arena bytes (TFLite Micro's planner when `tflite-micro` is installed, else tensor
liveness), and the float teacher / model ratios. Weights are random (timing does not depend
on them); the teacher uses --teacher-weights when given. Converted files are kept in
--work-dir, so a re-run only measures. Targets: int8 student2 >= 100x faster and >= 30x
smaller than the float teacher, arena <= 256 KB.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sea.manifest import atomic_write_bytes
from sea.quantization import Quantization
from sea.settings import POSITIVE, Settings, setting
from sea.settings_cli import Command
from sea.weights import weights_dir

TARGET_SPEEDUP = 100.0
TARGET_SIZE_REDUCTION = 30.0
TARGET_ARENA_BYTES = 256 * 1024


@dataclass(frozen=True, kw_only=True)
class BenchSettings(Settings):
    json: Path | None = setting(None, metavar="FILE", help="write the rows as a JSON list")
    models: tuple[str, ...] | None = setting(
        None, nargs="+", help="subset of models (default: teacher + students)")
    teacher_weights: str | None = setting(None,
                                          help="weights for the teacher (default: random)")
    work_dir: Path | None = setting(
        None, help="where converted .tflite files are kept (default: $SEA_HOME/bench)")
    budget: float = setting(3.0, check=POSITIVE,
                            help="seconds of timed runs per measurement (at least 20 runs)")


def print_table(rows, ratio_rows, frontend_ms) -> None:
    header = (f"{'model':<20}{'quant':>8}{'size KB':>10}{'ms 1t':>10}{'ms 2t':>10}"
              f"{'arena KB':>10}{'cos':>9}{'x speed':>9}{'x size':>8}{'x arena':>8}")
    print(header)
    print("-" * len(header))
    for r, q in zip(rows, ratio_rows):
        print(f"{r.model:<20}{r.quantization:>8}{r.size_bytes / 1024:>10.0f}"
              f"{r.latency_ms_1t:>10.3f}{r.latency_ms_2t:>10.3f}{r.arena_bytes / 1024:>10.0f}"
              f"{r.cosine_vs_torch:>9.4f}{q['speedup_1t']:>9.1f}{q['size_reduction']:>8.1f}"
              f"{q['arena_reduction']:>8.1f}")
    print("numpy frontend ms/window (single-threaded BLAS, as on the node): "
          + ", ".join(f"{k} {v}" for k, v in frontend_ms.items()))


def check_targets(rows, ratio_rows) -> list[str]:
    """The issue's targets for int8 student2, each as 'met'/'MISSED' lines."""
    lines = []
    for r, q in zip(rows, ratio_rows):
        if r.model != "student2" or r.scheme() is not Quantization.INT8:
            continue
        for what, ok, value in (
            ("speed-up >= 100x", q["speedup_1t"] >= TARGET_SPEEDUP, f"{q['speedup_1t']}x"),
            ("size reduction >= 30x", q["size_reduction"] >= TARGET_SIZE_REDUCTION,
             f"{q['size_reduction']}x"),
            ("arena <= 256 KB", r.arena_bytes <= TARGET_ARENA_BYTES,
             f"{r.arena_bytes / 1024:.0f} KB ({r.arena_method})"),
        ):
            lines.append(f"student2 int8 {what}: {value} {'met' if ok else 'MISSED'}")
    return lines


def run(settings: BenchSettings) -> int:
    from deploy.bench import (STUDENTS, TEACHER, bench_model, frontend_costs_as_on_node, ratios,
                              rows_as_dicts)

    names = settings.models or [TEACHER, *STUDENTS]
    work_dir = settings.work_dir or weights_dir().parent / "bench"
    work_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in names:
        weights = settings.teacher_weights if name == TEACHER else None
        rows += bench_model(name, work_dir, weights=weights, budget_s=settings.budget)
    has_teacher = any(r.model == TEACHER and r.scheme() is Quantization.FLOAT32 for r in rows)
    ratio_rows = ratios(rows) if has_teacher else [
        {"speedup_1t": float("nan"), "size_reduction": float("nan"),
         "arena_reduction": float("nan")} for _ in rows]
    frontend_ms = frontend_costs_as_on_node(list(dict.fromkeys(r.model for r in rows)))
    print_table(rows, ratio_rows, frontend_ms)
    if has_teacher:
        for line in check_targets(rows, ratio_rows):
            print(line)
    if settings.json:
        atomic_write_bytes(settings.json,
                           (json.dumps(rows_as_dicts(rows), indent=2) + "\n").encode())
        print(f"rows written to {settings.json}")
    return 0


COMMAND = Command(BenchSettings, run)
