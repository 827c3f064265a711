"""Cost of `sea-node serve` per real-time second: CPU share of one core and peak RSS.

A simulated stretch of recording (default one hour, as 1-minute 48 kHz WAV files in a spool
folder) is fed to `sea-node serve --drain` faster than real time, at 1 interpreter thread,
with a student2 int8 bundle carrying a classifier head: per 1-s window the node resamples,
computes the log-mel, the embedding, the head's classes and the levels, and writes segments.
The same run on an empty spool (start-up and shut-down only) is subtracted.

    python benchmarks/bench_node_serve.py [--bundle BUNDLE] [--minutes 60] [--hop 1.0]

Without --bundle a student2 (random weights: the cost does not depend on their values) is
exported to int8 with a 10-class head into the work folder, once (needs the export extra).
The Raspberry Pi 4 projection scales the CPU share by a published per-core figure: sysbench
1.0.20 `cpu --threads=1` (primes to 10000), 1477.83 events/s on a Pi 4 (Cortex-A72, 1.5 GHz;
leoncode.co.uk/articles/raspberry-pi-benchmarks), against the same command run here. That
benchmark is scalar integer code: on SIMD-bound work (the int8 convolutions, the FFT) the gap
between a 128-bit NEON core and an AVX-512 one is wider, so read the projection as a floor.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
PI4_SYSBENCH_EVENTS_PER_S = 1477.83  # sysbench 1.0.20 cpu, 1 thread, Raspberry Pi 4 (published)
LABELS = ("air_conditioner", "car_horn", "children_playing", "dog_bark", "drilling",
          "engine_idling", "gun_shot", "jackhammer", "siren", "street_music")


def build_bundle(out: Path) -> Path:
    """student2, random weights, int8, with a 10-class softmax head (cached in `out`)."""
    if (out / "manifest.json").exists():
        return out
    from deploy.exporter import export_bundle
    from deploy.representative import generated_windows
    from deploy.settings.export import ExportSettings
    from sea.head import write_head

    model_id = "student2-random0"  # random weights (seed 0): the cost does not depend on them
    head = out.parent / "head"
    rng = np.random.default_rng(0)
    write_head(head, {"weights_0": (0.1 * rng.standard_normal((128, len(LABELS))))
                      .astype(np.float32),
                      "bias_0": np.zeros(len(LABELS), np.float32), "labels": np.array(LABELS),
                      "activation": np.array("softmax")},
               {}, model_id=model_id, pooling="mean", period_seconds=10.0)
    settings = ExportSettings(model="student2", random_init=True, out=out, quantize="int8",
                              head=head, calibration_windows=64, frontend="outside")
    export_bundle(settings, windows=generated_windows(8000, 80))
    return out


def write_spool(folder: Path, minutes: int, rate: int) -> None:
    """Back-to-back 1-minute PCM-16 recordings: noise floor, a tone, and bursts."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    end = time.time() - 60
    t = np.arange(60 * rate) / rate
    for i in range(minutes):
        audio = 0.02 * rng.standard_normal(len(t)) + 0.1 * np.sin(2 * np.pi * (200 + 37 * i) * t)
        bursts = rng.random(len(t) // rate) < 0.2
        audio *= 1 + 4 * np.repeat(bursts, rate)[:len(t)]
        path = folder / f"rec-{i:04d}.wav"
        sf.write(path, np.clip(audio, -1, 1).astype(np.float32), rate, subtype="PCM_16")
        mtime = end - (minutes - 1 - i) * 60
        os.utime(path, (mtime, mtime))


def write_config(root: Path, bundle: Path, hop: float) -> Path:
    root, bundle = root.resolve(), bundle.resolve()  # node.toml paths are relative to the file
    config = root / "node.toml"
    config.write_text(
        f'node_id = "bench"\nbundle = "{bundle}"\ndata_dir = "{root / "data"}"\n'
        f"hop_seconds = {hop}\nthreads = 1\nmax_disk_mb = 10000\nstatus_seconds = 10\n"
        f'[input]\nsource = "spool"\nspool_dir = "{root / "spool"}"\nsettle_seconds = 0\n'
        f"[calibration]\noffset_db = 94.0\n")  # calibrated levels, as a real node
    return config


def wait_with_peak_rss(proc: subprocess.Popen) -> tuple[float, float]:
    """(CPU seconds, peak RSS MiB) of a child, waited for. The peak is sampled from VmHWM:
    wait4's ru_maxrss would include the RSS this (torch-loaded) parent had when it forked."""
    peak_kib = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime, peak_kib / 1024
        try:
            text = Path(f"/proc/{proc.pid}/status").read_text()
            peak_kib = max(peak_kib, int(re.search(r"VmHWM:\s+(\d+)", text).group(1)))
        except (OSError, AttributeError):  # exiting
            pass
        time.sleep(0.05)


def run_serve(config: Path) -> tuple[float, float, float]:
    """(CPU seconds, wall seconds, peak RSS MiB) of one `serve --drain` child process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "deploy.node.cli", "serve", "--config",
                             str(config), "--drain"], env={**os.environ, "PYTHONPATH": str(REPO)})
    cpu, peak = wait_with_peak_rss(proc)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"sea-node serve failed with exit status {proc.returncode}")
    return cpu, wall, peak


def sysbench_events_per_cpu_second() -> float | None:
    """sysbench's single-thread rate per CPU second it got (not per wall second: on a shared
    machine the wall rate measures the other jobs too)."""
    if shutil.which("sysbench") is None:
        return None
    proc = subprocess.Popen(["sysbench", "cpu", "--threads=1", "--time=10", "run"],
                            stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, _, usage = os.wait4(proc.pid, 0)
    events = int(re.search(r"total number of events:\s*(\d+)", out).group(1))
    return events / (usage.ru_utime + usage.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, help="student2 int8 bundle with a head")
    parser.add_argument("--minutes", type=int, default=60, help="simulated recording (60)")
    parser.add_argument("--rate", type=int, default=48000, help="recorder sample rate (48000)")
    parser.add_argument("--hop", type=float, default=1.0, help="seconds between windows (1.0)")
    parser.add_argument("--work", type=Path, default=Path("runs/bench_node_serve"),
                        help="work folder (bundle cache, spool, data)")
    args = parser.parse_args()

    bundle = args.bundle or build_bundle(args.work / "s2-int8-head")
    results = {}
    for name, minutes in (("empty", 0), ("full", args.minutes)):
        root = args.work / name
        shutil.rmtree(root, ignore_errors=True)
        write_spool(root / "spool", minutes, args.rate)
        results[name] = run_serve(write_config(root, bundle, args.hop))
    (cpu_full, wall_full, rss_full), (cpu_empty, wall_empty, rss_empty) = \
        results["full"], results["empty"]
    audio = args.minutes * 60.0
    share = (cpu_full - cpu_empty) / audio
    data = args.work / "full" / "data"
    segment_bytes = sum(p.stat().st_size for p in (data / "closed").glob("seg-*.jsonl"))
    host = sysbench_events_per_cpu_second()

    rows = [
        ("audio simulated", f"{audio / 3600:.3g} h at {args.rate} Hz, hop {args.hop} s"),
        ("wall time (run / start-up only)", f"{wall_full:.1f} s / {wall_empty:.1f} s"),
        ("faster than real time", f"{audio / (wall_full - wall_empty):.0f}x"),
        ("CPU seconds (run / start-up only)", f"{cpu_full:.1f} / {cpu_empty:.1f}"),
        ("CPU share of one core, this machine", f"{100 * share:.2f} %"),
        ("CPU ms per window", f"{1000 * share * args.hop:.2f}"),
        ("peak RSS (run / start-up only)", f"{rss_full:.0f} MiB / {rss_empty:.0f} MiB"),
        ("segment bytes per hour of audio", f"{segment_bytes * 3600 / audio / 2 ** 20:.1f} MiB"),
    ]
    if host is not None:
        factor = host / PI4_SYSBENCH_EVENTS_PER_S
        rows += [("sysbench cpu 1 thread, here (per CPU s) / Pi 4 (published)",
                  f"{host:.0f} / {PI4_SYSBENCH_EVENTS_PER_S:.0f} events/s"),
                 ("projected CPU share of one Pi 4 core (floor)", f"{100 * share * factor:.1f} %")]
    else:
        rows.append(("Pi 4 projection", "install sysbench (apt install sysbench) to compute it"))
    width = max(len(r[0]) for r in rows)
    print(f"\n| {'sea-node serve, student2 int8 + head + levels, 1 thread':<{width}} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for label, value in rows:
        print(f"| {label:<{width}} | {value} |")


if __name__ == "__main__":
    main()
