"""Teacher inference levers side by side (issue 15): windows/s, CPU user/system time, GFLOP/s
against this CPU's peak, and parity to the plain model, alternating variants round by round.

Variants: `plain` (training.model.L3Net as trained), `fold` (BN folded, index-free pools,
NCHW, whole batch), `fold+nhwc` (and channels-last), `...-cK` (the batch run in chunks of K),
`fold-c4+freeze` (torch.jit.trace + freeze + optimize_for_inference: oneDNN fusion), `bf16-c4`
(where the CPU has bf16 units). CPU seconds (user + system) per window are the load-robust
figure on a shared machine. Random weights: speed does not depend on the values. Machine load is printed with
every round: on a shared machine compare the ratios, not the absolute rates.

    python benchmarks/bench_teacher.py [--model openl3-mel256-env] [--threads 1 2] [--batch 16]
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
import torch

from deploy.parity import cosine
from sea.configs import get_config
from sea.roofline import cpu_peak, model_flops
from training.inference import FastL3, PrecisionUnavailable, check_precision
from training.model import L3Net


def load() -> str:
    return "load %.2f %.2f %.2f" % os.getloadavg()


class Chunked(torch.nn.Module):
    """A module traced for `chunk` windows, run over a batch chunk by chunk."""

    def __init__(self, traced: torch.nn.Module, chunk: int):
        super().__init__()
        self.traced, self.chunk = traced, chunk

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.traced(part) for part in x.split(self.chunk)])


def build_variants(model: L3Net, x: torch.Tensor, chunks: list[int]) -> dict[str, torch.nn.Module]:
    variants = {"plain": model,
                "fold": FastL3(model, chunk=len(x), channels_last=False),
                "fold+nhwc": FastL3(model, chunk=len(x), channels_last=True)}
    for chunk in chunks:
        variants[f"fold-c{chunk}"] = FastL3(model, chunk=chunk, channels_last=False)
        variants[f"fold+nhwc-c{chunk}"] = FastL3(model, chunk=chunk, channels_last=True)
    with torch.inference_mode():
        traced = torch.jit.trace(FastL3(model, chunk=4, channels_last=False), x[:4],
                                 check_trace=False)
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
    variants["fold-c4+freeze"] = Chunked(frozen, 4)
    try:
        check_precision("bf16", torch.device("cpu"))
        variants["bf16-c4"] = FastL3(model, precision="bf16", chunk=4)
    except PrecisionUnavailable as exc:
        print(f"bf16 skipped: {exc}")
    return variants


def timed(module: torch.nn.Module, x: torch.Tensor) -> tuple[float, float, float, np.ndarray]:
    """(wall, user, system) seconds of one forward pass over x, and its output."""
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    with torch.inference_mode():
        out = module(x)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    return wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime, out.numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="openl3-mel256-env")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--chunks", type=int, nargs="+", default=[2, 4])
    args = parser.parse_args()
    cfg = get_config(args.model)
    torch.manual_seed(0)
    model = L3Net(cfg).eval()
    with torch.no_grad():  # non-trivial BN statistics, so that folding is really exercised
        for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
    x = torch.randn(args.batch, cfg.frontend.window_samples) * 0.1
    variants = build_variants(model, x, args.chunks)
    flops = model_flops(cfg)
    peak = cpu_peak()
    print(f"{args.model}: {flops / 1e9:.1f} GFLOP/window; CPU {peak.model}, {peak.simd}, "
          f"{peak.mhz:.0f} MHz, peak {peak.gflops(1):.0f} GFLOP/s per core; torch "
          f"{torch.__version__}; batch {args.batch}")
    for threads in args.threads:
        torch.set_num_threads(threads)
        for module in variants.values():  # warm-up (oneDNN primitive caches, allocator)
            timed(module, x[:4])
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in variants}
        reference = None
        for r in range(args.rounds):
            for name, module in variants.items():  # alternating: load drifts hit all alike
                wall, user, sys_time, out = timed(module, x)
                results[name].append((wall, user, sys_time))
                reference = out if name == "plain" else reference
                cos = cosine(reference, out).min()
                print(f"  threads {threads} round {r} {name:<17} {args.batch / wall:6.2f} win/s  "
                      f"user {user:5.1f} s sys {sys_time:5.1f} s  min cos {cos:.7f}  {load()}")
        base = max(args.batch / w for w, _, _ in results["plain"])
        base_cpu = min(u + s for _, u, s in results["plain"]) / args.batch
        print(f"threads {threads}: best of {args.rounds} rounds")
        for name, rows in results.items():
            best = max(args.batch / w for w, _, _ in rows)
            precision = "bf16" if name.startswith("bf16") else "float32"
            cpu = min(u + s for _, u, s in rows) / args.batch
            achieved = flops / 1e9 / (cpu / threads)  # per second of the threads' CPU time
            print(f"  {name:<17} {cpu:6.3f} CPU s/window (x{base_cpu / cpu:4.2f})  "
                  f"{best:6.2f} win/s (x{best / base:4.2f})  {achieved:6.1f} GFLOP/s "
                  f"= {100 * achieved / peak.gflops(threads, precision):4.1f} % of peak "
                  f"({peak.gflops(threads, precision):.0f})  sys/user "
                  f"{sum(s for _, _, s in rows) / max(sum(u for _, u, _ in rows), 1e-9):.2f}")


if __name__ == "__main__":
    main()
