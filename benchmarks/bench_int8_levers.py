"""int8 fidelity levers on real windows: which calibration makes every window >= 0.99 cosine.

Real recordings (default: a development checkout's urban-eval audio) are split by file into a
calibration pool and a held-out scoring set (no file in both). Each lever set quantizes the
model's body with PT2E as `sea export` does and scores the quantized torch graph (the int8
arithmetic TFLite runs, simulated; `--tflite` also converts the outside variant and scores
the real interpreter) against the float model on the held-out windows: min and mean cosine,
and the 1st percentile. Levers: calibration size, calibration source (real or generated),
the stress windows, output equalization, the activation observer.

    python benchmarks/bench_int8_levers.py [--model edgel3-sea-64 --weights H5] [--eval 240]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from deploy import convert
from deploy.exporter import torch_embed, torch_logmel
from deploy.parity import cosine
from deploy.representative import folder_windows, generated_windows, stress_windows
from training import equalize
from training.checkpoint import build_model
from training.quantizer import load_converter

LEVERS = {  # name: (calibration windows, source, stress windows, equalize, observer)
    "default (128 real + stress, equalized, histogram)": (128, "real", True, True, "histogram"),
    "32 real": (32, "real", True, True, "histogram"),
    "512 real": (512, "real", True, True, "histogram"),
    "128 generated": (128, "generated", True, True, "histogram"),
    "no stress windows": (128, "real", False, True, "histogram"),
    "no equalization": (128, "real", True, False, "histogram"),
    "min/max observer": (128, "real", True, True, "minmax"),
    "moving-average min/max observer": (128, "real", True, True, "moving-average"),
}

# The real urban recordings beside a development checkout (`<repo>/../shared`).
URBAN_EVAL_AUDIO = (Path(__file__).resolve().parents[2] / "shared" / "data" / "urban-eval"
                    / "audio")


def observer_quantizer(name: str):
    """The exporter's PT2E quantizer with another activation observer."""
    load_converter()
    from litert_torch.quantize import pt2e_quantizer as pq
    from torchao.quantization.pt2e.observer import (HistogramObserver, MinMaxObserver,
                                                    MovingAverageMinMaxObserver)

    observer = {"histogram": HistogramObserver, "minmax": MinMaxObserver,
                "moving-average": MovingAverageMinMaxObserver}[name]
    config = pq.get_symmetric_quantization_config(is_per_channel=True)
    act = dataclasses.replace(config.input_activation,
                              observer_or_fake_quant_ctr=observer.with_args(eps=2 ** -12))
    config = dataclasses.replace(config, input_activation=act, output_activation=act)
    return pq.PT2EQuantizer().set_global(config)


def split_files(folder: Path, seed: int) -> tuple[list[Path], list[Path]]:
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".flac", ".wav"))
    order = np.random.default_rng(seed).permutation(len(files))
    half = len(files) // 2
    return [files[i] for i in order[:half]], [files[i] for i in order[half:]]


def windows_from(files: list[Path], tmp: Path, rate: int, count: int, seed: int) -> np.ndarray:
    """folder_windows over a file subset (linked into `tmp`, so the draw stays the exporter's)."""
    tmp.mkdir(parents=True, exist_ok=True)
    for f in files:
        link = tmp / f"{f.parent.name}-{f.name}"
        if not link.exists():
            link.symlink_to(f)
    return folder_windows(tmp, rate, count, seed=seed).windows


def quantized_embed(model, calibration: np.ndarray, equalized: bool, observer: str,
                    scored: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Embeddings of `scored` by the int8 body, and (equalized model, body, output map)."""
    logmels = torch_logmel(model, calibration)
    scale = np.ones(model.cfg.embedding_dim, np.float32)
    offset = np.zeros_like(scale)
    body_model = model
    if equalized:
        output_range = equalize.measure(model, logmels)
        scale, offset = output_range.per_dimension(model.cfg.embedding_dim)
        body_model = equalize.equalized_copy(model, output_range)
    original = convert.symmetric_quantizer
    convert.symmetric_quantizer = lambda: observer_quantizer(observer)
    try:
        body = convert.quantize_body(
            body_model, logmels, output_range=equalize.EQUALIZED_RANGE if equalized else None)
    finally:
        convert.symmetric_quantizer = original
    images = torch.as_tensor(torch_logmel(model, scored))
    with torch.no_grad():
        out = torch.cat([body(images[i:i + 32]) for i in range(0, len(images), 32)]).numpy()
    return (out.reshape(len(scored), -1) * scale + offset,
            (body_model, body, (scale, offset)))


def tflite_scores(model, quantized, scored: np.ndarray, reference: np.ndarray) -> np.ndarray:
    from deploy.exporter import tflite_embed
    from sea.bundle import TFLiteModel
    from sea.frontend import LogMelFrontend

    equalized, body, output_map = quantized
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.tflite"
        path.write_bytes(convert.convert_int8(equalized, body, "outside"))
        frontend = LogMelFrontend(model.cfg.frontend, mel_basis=model.frontend.mel_basis.numpy())
        return cosine(reference, tflite_embed(TFLiteModel(path), scored, frontend, output_map))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="edgel3-sea-64")
    parser.add_argument("--weights", help="weights of a named model (default: registry)")
    parser.add_argument("--audio", type=Path, default=URBAN_EVAL_AUDIO)
    parser.add_argument("--eval", type=int, default=240, help="held-out real windows scored")
    parser.add_argument("--levers", nargs="+", choices=tuple(LEVERS), default=tuple(LEVERS))
    parser.add_argument("--tflite", action="store_true", help="also score the TFLite int8 model")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    model = build_model(args.model, weights=args.weights, dft_mode="matmul")
    pool, held_out = split_files(args.audio, args.seed)
    with tempfile.TemporaryDirectory(prefix="sea-int8-levers-") as tmp:
        run_levers(args, model, pool, held_out, Path(tmp))


def run_levers(args: argparse.Namespace, model, pool: list[Path], held_out: list[Path],
               tmp: Path) -> None:
    rate = model.cfg.frontend.sample_rate
    scored = windows_from(held_out, tmp / "eval", rate, args.eval, args.seed)
    reference = torch_embed(model, scored)
    print(f"{args.model}: {len(scored)} held-out windows from {len(held_out)} files "
          f"(calibration pool: {len(pool)} other files); load %.2f %.2f %.2f" % os.getloadavg())
    for name in args.levers:
        count, source, stress, equalized, observer = LEVERS[name]
        start = time.perf_counter()
        calibration = (windows_from(pool, tmp / "pool", rate, count, args.seed)
                       if source == "real" else generated_windows(rate, count, args.seed).windows)
        if stress:
            calibration = np.concatenate([calibration, stress_windows(rate)])
        out, quantized = quantized_embed(model, calibration, equalized, observer, scored)
        cos = cosine(reference, out)
        line = (f"{name:52s} min {cos.min():.5f} p1 {np.percentile(cos, 1):.5f} "
                f"mean {cos.mean():.5f}")
        if args.tflite:
            tcos = tflite_scores(model, quantized, scored, reference)
            line += f" | tflite min {tcos.min():.5f} mean {tcos.mean():.5f}"
        print(f"{line} ({time.perf_counter() - start:.0f} s, load %.2f)" % os.getloadavg()[0],
              flush=True)


if __name__ == "__main__":
    main()
