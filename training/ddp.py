"""Distributed data parallel plumbing for `sea distill` under torchrun (torch.distributed).

`torchrun --nproc-per-node N -m sea.cli distill ...` (or `sea distill --nproc N`, which runs
exactly that) starts N ranks; each one reads its share of every global batch, DDP averages the
gradients and BatchNorm's statistics span all ranks (training.sync_batchnorm), so the step
equals one process's step on the whole batch and --batch-size / --lr mean the same whatever N is. Backend: nccl on
CUDA (one GPU per local rank), gloo on CPU. Rank 0 alone writes the checkpoint directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np
import torch
import torch.distributed as dist

from sea.errors import InvalidArgument
from sea.settings import SettingError


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int | None = None, minimum: int = 0) -> int:
    """An integer environment variable torchrun sets; one line naming it when unusable."""
    text = os.environ.get(name)
    if text is None and default is not None:
        return default
    try:
        value = int(text) if text is not None else None
    except ValueError:
        value = None
    if value is None or value < minimum:
        state = "is not set" if text is None else f"is {text!r}"
        raise SettingError(
            "nproc", f"environment variable {name} {state}: WORLD_SIZE > 1 means a torchrun "
            "rank, which needs RANK and WORLD_SIZE as integers; start ranks with `sea distill` "
            "{nproc} N (or torchrun), or unset WORLD_SIZE for one process")
    return value


def under_torchrun() -> bool:
    return _env_int("WORLD_SIZE", default=1, minimum=1) > 1


def init_from_env(device: str | None) -> tuple[Ranks, str | None]:
    """Join the process group torchrun set up (if any): (ranks, this rank's torch device)."""
    if not under_torchrun():
        return Ranks(), device
    world = _env_int("WORLD_SIZE")
    ranks = Ranks(_env_int("RANK"), world, _env_int("LOCAL_RANK", default=0))
    if ranks.rank >= world:
        raise InvalidArgument(f"environment variable RANK is {ranks.rank}, not below "
                               f"WORLD_SIZE {world}")
    cuda = torch.cuda.is_available() and (device is None or device.startswith("cuda"))
    if cuda:
        device = f"cuda:{ranks.local_rank}"
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return ranks, device


def current() -> Ranks:
    if not dist.is_initialized():
        return Ranks()
    return Ranks(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def local_cpu_threads() -> int:
    """CPU threads per rank: this machine's cores split among its local ranks."""
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, len(os.sched_getaffinity(0)) // local)


def all_sum(values: np.ndarray) -> np.ndarray:
    """Element-wise sum of a float64 array over all ranks (the array itself with one rank)."""
    values = np.asarray(values, dtype=np.float64)
    if not dist.is_initialized():
        return values
    tensor = torch.from_numpy(values.copy())
    if dist.get_backend() == "nccl":
        tensor = tensor.cuda()
    dist.all_reduce(tensor)
    return tensor.cpu().numpy()


def average_gradients(parameters: Iterable[torch.nn.Parameter]) -> None:
    """Average the gradients of `parameters` over all ranks, as DDP does for the module it
    wraps: for learnable parts of the objective (ALP projections) outside the student."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return
    params = [p for p in parameters if p.requires_grad]
    if not params:
        return
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                      for p in params])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    for p, grad in zip(params, flat.split([p.numel() for p in params])):
        p.grad = grad.view_as(p).clone()


def broadcast_buffers(module: torch.nn.Module) -> None:
    """Give every rank rank 0's buffers (BatchNorm running statistics) before evaluating."""
    if dist.is_initialized():
        for buffer in module.buffers():
            dist.broadcast(buffer, 0)


@contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block first (e.g. builds a cache), the other ranks after it is done."""
    ranks = current()
    if ranks.world > 1 and not ranks.main:
        dist.barrier()
    yield
    if ranks.world > 1 and ranks.main:
        dist.barrier()


def launch(nproc: int, argv: list[str]) -> int:
    """Run `sea <argv>` as `nproc` torchrun ranks on this machine; returns the exit status.

    `--nproc` itself is left out of the ranks' arguments: torchrun's parser would take it for
    an abbreviation of its own `--nproc-per-node`."""
    argv = [a for i, a in enumerate(argv)
            if not (a == "--nproc" or a.startswith("--nproc=")
                    or (i and argv[i - 1] == "--nproc"))]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc-per-node={nproc}", "-m", "sea.cli", *argv]
    return subprocess.call(command)


def finish() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
