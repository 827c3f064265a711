"""Scale-out figures: teacher-embed windows/s on 1 and 2 Ray workers, distillation windows/s on
1 and 2 DDP (gloo) processes, and a projection of the paper's upstream scale.

    python benchmarks/bench_scale.py [--windows 96] [--teacher openl3-mel256-env]
                                     [--distill-clips 96] [--gpus 1,8] [--gpu-tflops 200]

Every figure comes from the real commands (`sea teacher-embed --ray local`, `sea distill
--nproc N`) on generated audio with random-weight models. Each Ray worker and each DDP rank
gets one CPU thread, so 2 workers on 2 free cores would scale by 2x at 100% efficiency; on a
shared machine the efficiency says more about the other load than about Ray (print `uptime`).

The projection: the paper's upstream set is 15 sensors x 1 year of continuous audio, embedded
by the teacher at --hop. Without a measured GPU rate it is an ESTIMATE from the teacher's FLOP
count (torch's FLOP counter on one window) and an assumed sustained --gpu-tflops per GPU.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from bench_distill import make_store  # benchmarks/ is on sys.path when run as a script

SENSORS, SECONDS_PER_YEAR = 15, 365 * 86400


def timed(argv: list[str]) -> float:
    from sea.cli import main

    start = time.perf_counter()
    if main(argv) != 0:
        raise SystemExit(f"failed: sea {' '.join(argv)}")
    return time.perf_counter() - start


def random_teacher(name: str, path: Path) -> str:
    """A seeded random-weight model of config `name` saved as a checkpoint (works offline)."""
    import torch

    from training.checkpoint import build_model, save_checkpoint

    torch.manual_seed(0)
    save_checkpoint(path, build_model(name, pretrained=False).eval())
    return str(path)


def teacher_flops(name: str) -> float:
    """FLOPs of one teacher window (multiply-add = 2 FLOPs), counted by torch."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from training.checkpoint import build_model

    model = build_model(name, pretrained=False).eval()
    window = torch.zeros(1, int(model.cfg.frontend.window_seconds * model.cfg.frontend.sample_rate))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(window)
    return float(counter.get_total_flops())


def bench_ray(root: Path, windows: int, teacher: str) -> dict[str, float]:
    import ray

    store = root / "store"
    make_store(store, clips=windows // 4, seconds=4.0)
    teacher = random_teacher(teacher, root / "teacher")
    common = ["teacher-embed", str(store), "--teacher", teacher, "--hop", "1.0", "--threads",
              "1", "--shard-rows", "8", "--batch-size", "8"]
    rates = {"1 process": windows / timed([*common, "--out", str(root / "local")])}
    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    rates["ray start s"] = time.perf_counter() - start
    try:
        for n in (1, 2):
            rates[f"ray x{n}"] = windows / timed([*common, "--out", str(root / f"ray{n}"),
                                                  "--ray", "local", "--ray-workers", str(n)])
    finally:
        ray.shutdown()
    return rates


def bench_ddp(root: Path, clips: int) -> dict[str, float]:
    store, emb, red = root / "dstore", root / "demb", root / "dred"
    make_store(store, clips=clips, seconds=2.0, sr=16000)
    teacher = random_teacher("edgel3-sea-64", root / "teacher64")  # 64-d, like student3
    timed(["teacher-embed", str(store), "--teacher", teacher,
           "--out", str(emb), "--hop", "0.5", "--threads", "1"])
    timed(["reduce", str(emb), "--reducer", "identity", "--out", str(red)])
    rates = {}
    for n in (1, 2):
        out = root / f"student{n}"
        timed(["distill", "--store", str(store), "--targets", str(red), "--out", str(out),
               "--student", "student3", "--epochs", "2", "--batch-size", "16", "--threads", "1",
               "--val-folds", "3", "--nproc", str(n)])
        with open(out / "history.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        rates[f"ddp x{n}"] = float(rows[-1]["windows_per_second"])  # epoch 2: warm
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=96, help="teacher windows per run (96)")
    parser.add_argument("--teacher", default="openl3-mel256-env",
                        help="teacher config (random weights unless cached)")
    parser.add_argument("--distill-clips", type=int, default=96)
    parser.add_argument("--hop", type=float, default=1.0, help="teacher hop of the projection")
    parser.add_argument("--gpus", default="1,8,64", help="GPU counts to project for")
    parser.add_argument("--gpu-tflops", type=float, default=200.0,
                        help="assumed sustained TFLOP/s per GPU for the estimate (200: about a "
                             "fifth to a quarter of an H100/H200's dense bf16 peak)")
    parser.add_argument("--skip-measure", action="store_true", help="projection only")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"load: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(figures on a shared machine are noisy)")
    if not args.skip_measure:
        with tempfile.TemporaryDirectory() as tmp:
            ray_rates = bench_ray(Path(tmp), args.windows, args.teacher)
            ddp_rates = bench_ddp(Path(tmp), args.distill_clips)
        print(f"\nteacher-embed ({args.teacher}, {args.windows} windows, 1 thread per worker)")
        print(f"  Ray start-up: {ray_rates.pop('ray start s'):.1f} s (once per command)")
        for key, rate in ray_rates.items():
            print(f"  {key:10s} {rate:8.2f} windows/s")
        print(f"  Ray overhead vs 1 process: {ray_rates['1 process'] / ray_rates['ray x1']:.2f}x;"
              f" scaling efficiency 2 workers: "
              f"{ray_rates['ray x2'] / (2 * ray_rates['ray x1']):.0%}")
        print("\ndistill (student3, gloo, 1 thread per rank, epoch 2)")
        for key, rate in ddp_rates.items():
            print(f"  {key:10s} {rate:8.1f} windows/s")
        print(f"  scaling efficiency 2 ranks: {ddp_rates['ddp x2'] / (2 * ddp_rates['ddp x1']):.0%}")

    flops = teacher_flops(args.teacher)
    windows = SENSORS * SECONDS_PER_YEAR / args.hop
    per_gpu = args.gpu_tflops * 1e12 / flops
    print(f"\nprojection (ESTIMATE: no GPU was measured): {SENSORS} sensors x 1 year at hop "
          f"{args.hop:g} s = {windows / 1e6:.0f} M teacher windows; {flops / 1e9:.1f} GFLOP per "
          f"window; at an assumed {args.gpu_tflops:g} TFLOP/s per GPU = {per_gpu:.0f} windows/s")
    for n in (int(v) for v in args.gpus.split(",")):
        print(f"  {n:3d} GPUs: {windows / (n * per_gpu) / 3600:8.1f} hours")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
