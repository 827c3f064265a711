"""Throughput of the torch model family on this CPU, plus size figures per named config.

Prints, for each model: windows/s at batch 32 (frontend included, random weights: speed does
not depend on the values), trainable parameters, float32 size and activation memory; and the
end-to-end `sea embed` rate of EdgeL3 SEA-64 on a 60 s 44.1 kHz file (decode + resample +
frames at hop 0.1 s).

    python benchmarks/bench_models.py [--models student2 openl3-mel256-env] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from sea.audio import load_audio
from sea.configs import activation_bytes, count_parameters, get_config
from training.embedder import Embedder
from training.model import L3Net

DEFAULT_MODELS = ["openl3-mel256-env", "student0", "student1", "student2", "student3"]


def windows_per_second(name: str, batch: int, repeats: int) -> float:
    cfg = get_config(name)
    model = L3Net(cfg).eval()
    x = torch.randn(batch, cfg.frontend.window_samples) * 0.1
    with torch.inference_mode():
        model(x)  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            model(x)
    return batch * repeats / (time.perf_counter() - start)


def embed_file_rate(seconds: float = 60.0) -> float:
    """Windows/s of Embedder on a real file path: decode, resample 44.1k->8k, frame, embed."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.wav"
        rng = np.random.default_rng(0)
        sf.write(path, 0.1 * rng.standard_normal(int(44100 * seconds)), 44100)
        embedder = Embedder(L3Net(get_config("edgel3-sea-64")), batch_size=32)
        start = time.perf_counter()
        audio, sr = load_audio(path)
        emb, _ = embedder.embed(audio, sr, hop_seconds=0.1)
        return len(emb) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}")
    print(f"{'model':<22}{'windows/s':>11}{'params':>12}{'MB fp32':>9}{'act MB':>8}")
    for name in args.models:
        cfg = get_config(name)
        rate = windows_per_second(name, args.batch, args.repeats)
        print(f"{name:<22}{rate:>11.1f}{count_parameters(cfg, trainable_only=True):>12,}"
              f"{count_parameters(cfg) * 4 / 1e6:>9.2f}{activation_bytes(cfg) / 1e6:>8.2f}")
    print(f"sea embed path, edgel3-sea-64, 60 s of 44.1 kHz audio: {embed_file_rate():.0f} windows/s")


if __name__ == "__main__":
    main()
