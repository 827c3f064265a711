"""Cost of each torch DFT path (rfft64, rfft, matmul) per window, and its share of a model.

Prints ms per window of the frontend alone at batch 32 for the SEA (8 kHz) and OpenL3 mel256
(48 kHz) frontends, and the whole forward pass of a model using the default path, so the
price of the float64 spectrum can be weighed against the network it feeds. Run it on a quiet
machine: it prints the load average beside the figures.

    python benchmarks/bench_frontend.py [--threads 1] [--repeats 10]
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from sea.configs import get_config
from training.frontend import DFT_MODES, TorchLogMel
from training.model import L3Net

MODELS = ["student3", "openl3-mel256-env"]


def best_ms_per_window(fn, x: torch.Tensor, repeats: int) -> float:
    with torch.inference_mode():
        fn(x)  # warm-up: allocations, kernel selection
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            fn(x)
            best = min(best, time.perf_counter() - start)
    return 1000 * best / len(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load average {os.getloadavg()[0]:.1f}, {args.threads} thread(s), batch {args.batch}")
    for name in MODELS:
        cfg = get_config(name)
        x = 0.1 * torch.randn(args.batch, cfg.frontend.window_samples)
        frontends = {mode: best_ms_per_window(TorchLogMel(cfg.frontend, mode), x, args.repeats)
                     for mode in DFT_MODES}
        model = best_ms_per_window(L3Net(cfg).eval(), x, max(2, args.repeats // 5))
        figures = ", ".join(f"{mode} {ms:.2f}" for mode, ms in frontends.items())
        print(f"{name}: frontend ms/window {figures}; whole model (default path) {model:.2f}")


if __name__ == "__main__":
    main()
