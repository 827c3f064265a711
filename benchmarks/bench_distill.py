"""Distillation throughput on CPU: training windows/s per student and the share of each epoch
spent waiting for data (target: under 10%).

    python benchmarks/bench_distill.py [--windows 512] [--threads 1 2] [--students student3,...]
                                       [--profile]

A generated clip store (48 kHz, like `sea prepare`'s default) is embedded by a small random
teacher and mapped to each student's width with a random projection, so every student trains
on real pipeline artifacts (8 kHz cache, prefetching, Adam steps) without published weights.
Each student trains one epoch over --windows windows after one warm-up batch, per thread
count. Then, on one batch: the student's log-mel frontend's share of a training step (the
frontend runs on every step although the same window returns every epoch: the figure that
says whether caching log-mels would pay), and with --profile the torch profiler's top ops by
self CPU time over a few steps. CPU time per window is printed too (load-robust), with the
roofline figure it gives: a training step is about 3x the forward FLOPs (forward, input and
weight gradients), in GFLOP per CPU-second against one core's float32 FMA peak
(sea.roofline); the machine load is printed with every row.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

STUDENTS = ("student0", "student1", "student2", "student3", "student-micro",
            "custom")  # custom: 16-32-32-64


def make_store(path: Path, clips: int, seconds: float = 5.0, sr: int = 48000) -> None:
    from sea.store import StoreWriter

    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    with StoreWriter(path, sample_rate=sr) as writer:
        for i in range(clips):
            tone = np.sin(2 * np.pi * rng.uniform(100, 3500) * t) * rng.uniform(0.05, 0.5)
            audio = (tone + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
            writer.add(f"bench/{i:04d}", audio, source="bench", dataset="bench", fold=str(i % 5))


def batch_of(distiller, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, BatchShare]:
    """One training batch of these (sorted) rows, as `Distiller._step` takes it."""
    from training.kd.batch_share import BatchShare

    return (distiller.cache.windows(rows), np.asarray(distiller.targets[rows], dtype=np.float32),
            BatchShare(rows))


def frontend_share(distiller, rows: np.ndarray, reps: int = 5) -> float:
    """CPU time of the log-mel frontend over that of a whole training step, same batch."""
    import torch

    windows, targets, share = batch_of(distiller, rows)
    x = torch.from_numpy(windows)
    step = frontend = float("inf")
    for _ in range(reps):  # best of: the load only adds
        start = time.process_time()
        distiller._step(windows, targets, share, None)
        step = min(step, time.process_time() - start)
        start = time.process_time()
        with torch.no_grad():
            distiller.model.frontend(x)
        frontend = min(frontend, time.process_time() - start)
    return frontend / step


def print_hotspots(distiller, rows: np.ndarray, steps: int = 3, top: int = 8) -> None:
    from torch.profiler import ProfilerActivity, profile

    windows, targets, share = batch_of(distiller, rows)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            distiller._step(windows, targets, share, None)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1
    print("    hotspots (self CPU): " + ", ".join(
        f"{e.key} {100 * e.self_cpu_time_total / total:.0f}%" for e in events[:top]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=512, help="training windows per student")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, nargs="+", default=[None],
                        help="CPU thread counts to run, e.g. 1 2 (default: every core)")
    parser.add_argument("--students", default=",".join(STUDENTS))
    parser.add_argument("--profile", action="store_true",
                        help="print the torch profiler's top ops of a few training steps")
    parser.add_argument("--workdir", type=Path, help="keep artifacts here (default: temporary)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("TQDM_DISABLE", "1")  # progress bars would bury the table

    import torch

    from sea.configs import count_parameters, custom_config
    from sea.roofline import cpu_peak, model_flops
    from training.distill import Distiller
    from training.settings.distill import DistillSettings
    from training.model import L3Net
    from training.checkpoint import save_checkpoint
    from training.reduce import reduce_embeddings
    from training.settings.reduce import ReduceSettings
    from training.settings.teacher_embed import TeacherEmbedSettings
    from training.teacher_embed import embed_store

    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        clips = -(-args.windows * 5 // 4 // 5) + 1  # 5 windows per clip, 4 of 5 folds train
        make_store(work / "store", clips)
        torch.manual_seed(0)
        save_checkpoint(work / "teacher", L3Net(custom_config((8, 16, 16, 64))).eval())
        embed_store(TeacherEmbedSettings(store=work / "store", teacher=str(work / "teacher"),
                                         out=work / "emb", threads=args.threads[0]))
        peak = cpu_peak().gflops(1)
        print(f"{'student':<22}{'threads':>8}{'params':>10}{'windows/s':>11}{'CPU ms/win':>11}"
              f"{'GFLOP/CPU-s':>12}{'of peak':>8}{'data wait':>10}{'frontend':>10}   load "
              f"(one core's float32 peak: {peak:.0f} GFLOP/s)")
        for name in args.students.split(","):
            custom = {"filters": (16, 32, 32, 64)} if name == "custom" else {}
            cfg = DistillSettings(store=work / "store", targets=work, out=work, student=name,
                                  **custom).student_config()
            red = work / f"red-{cfg.embedding_dim}"
            if not red.exists():
                reduce_embeddings(ReduceSettings(
                    embeddings=work / "emb", out=red, n_fit=10**6, reducer="random-projection",
                    dim=cfg.embedding_dim))
            for threads in args.threads:
                distiller = Distiller(DistillSettings(
                    store=work / "store", targets=red, out=work / f"ckpt-{cfg.name}-{threads}",
                    student=name, **custom, epochs=1, batch_size=args.batch_size,
                    val_folds=("0",), threads=threads))
                rows = distiller.train_rows
                distiller.train_rows = rows[: args.batch_size]
                distiller.train_epoch(0)  # warm-up: allocator, kernels
                distiller.train_rows = rows[: args.windows]
                start, cpu = time.perf_counter(), time.process_time()
                _, count, wait, _ = distiller.train_epoch(1)
                seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
                batch = np.sort(rows[: args.batch_size])
                share = frontend_share(distiller, batch)
                gflops = 3 * model_flops(cfg) * count / cpu / 1e9  # per CPU-second
                print(f"{cfg.name:<22}{threads or torch.get_num_threads():>8}"
                      f"{count_parameters(cfg):>10,}{count / seconds:>11.1f}"
                      f"{1e3 * cpu / count:>11.2f}{gflops:>12.1f}{100 * gflops / peak:>7.0f}%"
                      f"{100 * wait / seconds:>9.1f}%"
                      f"{100 * share:>9.1f}%   {os.getloadavg()[0]:.2f}", flush=True)
                if args.profile:
                    print_hotspots(distiller, batch)
                distiller.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
