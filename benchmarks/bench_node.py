"""End-to-end sensor-node throughput: `sea-node run` on a long file, per bundle.

Streams a generated 44.1 kHz recording through the node (block reads, soxr resampling, ring
buffer, numpy frontend, TFLite network, JSON lines) and prints windows per second, the
real-time factor at the chosen hop, and the peak resident memory of the node process.

    python benchmarks/bench_node.py BUNDLE [BUNDLE ...] [--seconds 600] [--hop 0.5]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]


def make_recording(path: Path, seconds: float, sr: int = 44100) -> None:
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", samplerate=sr, channels=1, subtype="PCM_16") as f:
        for _ in range(int(seconds)):  # written second by second: bounded memory here too
            t = np.arange(sr) / sr
            f.write(0.1 * rng.standard_normal(sr) + 0.2 * np.sin(2 * np.pi * 600 * t))


def run_node(bundle: Path, audio: Path, hop: float) -> tuple[float, int, float]:
    """(seconds, windows, peak RSS MiB) of one node run in a child process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.jsonl"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "deploy.node.cli", "run", "--bundle", str(bundle),
                        "--input", str(audio), "--hop", str(hop), "--out", str(out)],
                       cwd=REPO, check=True, capture_output=True)
        elapsed = time.perf_counter() - start
        windows = sum(1 for _ in out.open())
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return elapsed, windows, peak_mib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="+", type=Path)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--hop", type=float, default=0.5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        audio = Path(tmp) / "long.wav"
        make_recording(audio, args.seconds)
        for bundle in args.bundles:
            elapsed, windows, peak = run_node(bundle, audio, args.hop)
            print(f"{bundle}: {windows} windows in {elapsed:.1f} s "
                  f"({windows / elapsed:.0f} windows/s, {args.seconds / elapsed:.0f}x real time "
                  f"at hop {args.hop} s, start-up included), peak RSS so far {peak:.0f} MiB")


if __name__ == "__main__":
    main()
