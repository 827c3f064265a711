"""The node's frontend per window: window by window (LogMelFrontend) against the stream
frontend that computes each shared STFT frame once (sea.overlap.OverlapFrontend).

Prints CPU milliseconds per window (process time: robust on a busy machine; the machine load
is printed too) at the given hops, and the largest difference between the two outputs.

    python benchmarks/bench_node_frontend.py [--model edgel3-sea-64] [--hops 0.1 0.5]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from sea.configs import get_config
from sea.framing import frame_audio
from sea.frontend import LogMelFrontend
from sea.overlap import OverlapFrontend


def cpu_ms_per_window(fn, windows: np.ndarray, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for i, window in enumerate(windows):
            fn(window, i)
        best = min(best, (time.process_time() - start) / len(windows) * 1e3)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="edgel3-sea-64")
    parser.add_argument("--hops", type=float, nargs="+", default=[0.1, 0.5])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cfg = get_config(args.model).frontend
    rng = np.random.default_rng(0)
    signal = 0.1 * rng.standard_normal(int(args.seconds * cfg.sample_rate))
    frontend = LogMelFrontend(cfg)
    print(f"{args.model}: numpy {np.__version__}, load %.2f %.2f %.2f" % os.getloadavg())
    for hop in args.hops:
        windows, _ = frame_audio(signal, cfg.sample_rate, hop, center=True)
        windows = windows.astype(np.float32)
        overlap = OverlapFrontend(frontend, int(round(hop * cfg.sample_rate)))
        plain_ms = cpu_ms_per_window(lambda w, i: frontend(w[None]), windows, args.rounds)
        overlap.reset()
        stream_ms = cpu_ms_per_window(overlap, windows, args.rounds)
        overlap.reset()
        diff = max(np.abs(overlap(w, i) - frontend(w[None])).max() for i, w in enumerate(windows))
        print(f"hop {hop} s: window by window {plain_ms:.3f} CPU ms, stream {stream_ms:.3f} CPU ms "
              f"(x{plain_ms / stream_ms:.2f}; {len(overlap.reuse)} of {cfg.n_frames} frames "
              f"reused), max |diff| {diff:.2e} dB; load %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
