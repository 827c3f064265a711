"""Benchmark `sea prepare`: clips/s and MB/s on many short clips, peak RSS on one long file.

    python benchmarks/bench_prepare.py                 # 300 short clips + a 1 GB WAV
    python benchmarks/bench_prepare.py --gb 0.1 --clips 100

Inputs are generated in a temporary folder (or --workdir) and deleted afterwards unless
--keep. Disk use: the inputs (--gb plus about 35 MB of short clips) and the stores (float32
at 48 kHz: about 2.2x the size of a 44.1 kHz 16-bit input; with --workers > 1 a long file is
also spooled once more while it is decoded). Each prepare runs in a fresh Python process
(`data_prep.prepare.prepare`, without the CLI's imports), so its peak RSS is prepare's own;
the long file is also run at a tenth of its length to show that peak memory does not grow
with file length.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

SHORT_SR, LONG_SR = 44100, 44100

RUNNER = """
import json, sys, time
from data_prep.prepare import prepare
from data_prep.settings.prepare import PrepareSettings
args = json.loads(sys.argv[1])
start = time.perf_counter()
manifest = prepare(PrepareSettings(sources=args["sources"], out=args["out"], sample_rate=args["sr"],
                                   workers=args["workers"], progress=False))
print(json.dumps({"seconds": time.perf_counter() - start, "clips": manifest["clips"],
                  "audio_seconds": manifest["seconds"], "skipped": len(manifest["skipped"])}))
"""


def make_short_clips(folder: Path, count: int, seconds: float = 4.0) -> int:
    """UrbanSound8K-like clips: 4 s, 44.1 kHz, 16-bit, half of them stereo."""
    rng = np.random.default_rng(0)
    n = int(seconds * SHORT_SR)
    for i in range(count):
        audio = 0.1 * rng.standard_normal((n, 2 if i % 2 else 1))
        sf.write(folder / f"clip{i:05d}.wav", audio, SHORT_SR, subtype="PCM_16")
    return sum(p.stat().st_size for p in folder.iterdir())


def make_long_file(path: Path, gigabytes: float) -> int:
    """One mono 16-bit WAV of about `gigabytes` GB, written in chunks (bounded memory)."""
    frames = int(gigabytes * 1e9 / 2)
    block = LONG_SR * 60
    rng = np.random.default_rng(1)
    t = np.arange(block) / LONG_SR
    with sf.SoundFile(path, "w", LONG_SR, 1, subtype="PCM_16") as f:
        for start in range(0, frames, block):
            n = min(block, frames - start)
            chunk = 0.2 * np.sin(2 * np.pi * 440 * t[:n]) + 0.05 * rng.standard_normal(n)
            f.write(chunk)
    return path.stat().st_size


def run_prepare(sources: list[str], out: Path, sr: int, workers: int) -> dict:
    """Run prepare in a child process; add its peak RSS (the largest process of its tree)."""
    args = json.dumps({"sources": sources, "out": str(out), "sr": sr, "workers": workers})
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, args], stdout=subprocess.PIPE,
                            text=True)
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"prepare failed ({proc.returncode})")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=300, help="short clips (default 300)")
    parser.add_argument("--gb", type=float, default=1.0, help="long input size in GB (default 1)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--sample-rate", type=int, default=48000)
    parser.add_argument("--workdir", help="where to generate inputs and stores (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()

    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_prepare_"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"workdir {work} ({os.cpu_count()} CPUs)")
    try:
        short = work / "short"
        short.mkdir(exist_ok=True)
        t = time.perf_counter()
        short_bytes = make_short_clips(short, args.clips)
        print(f"generated {args.clips} x 4 s clips, {short_bytes / 1e6:.1f} MB, "
              f"in {time.perf_counter() - t:.1f} s")
        for workers in args.workers:
            r = run_prepare([f"folder:{short}"], work / f"store_short_w{workers}",
                            args.sample_rate, workers)
            print(f"short clips, workers={workers}: {r['clips'] / r['seconds']:.1f} clips/s, "
                  f"{short_bytes / 1e6 / r['seconds']:.1f} MB/s of input, "
                  f"{r['audio_seconds'] / r['seconds']:.0f}x real time, "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB")

        for fraction in (0.1, 1.0):
            folder = work / f"long_{fraction}"
            folder.mkdir(exist_ok=True)
            t = time.perf_counter()
            size = make_long_file(folder / "long.wav", args.gb * fraction)
            print(f"generated one {size / 1e9:.2f} GB WAV ({size / 2 / LONG_SR / 3600:.2f} h at "
                  f"{LONG_SR} Hz) in {time.perf_counter() - t:.1f} s")
            for workers in args.workers:
                out = work / f"store_long_{fraction}_w{workers}"
                r = run_prepare([f"folder:{folder}"], out, args.sample_rate, workers)
                store_bytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
                print(f"long file {size / 1e9:.2f} GB, workers={workers}: "
                      f"{size / 1e6 / r['seconds']:.1f} MB/s of input, "
                      f"{r['audio_seconds'] / r['seconds']:.0f}x real time, "
                      f"peak RSS {r['peak_rss_mb']:.0f} MB, store {store_bytes / 1e9:.2f} GB")
                shutil.rmtree(out)
            shutil.rmtree(folder)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
