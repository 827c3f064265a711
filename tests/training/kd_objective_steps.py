"""A few training steps of the distillation objective on a linear 'student', on one process or
as one of the ranks of `python -m torch.distributed.run --nproc-per-node N` (gloo): each rank
takes its strided share of every global batch, the gradients are averaged as DDP averages
them (and as `sea distill` averages the objective's own: the ALP projections). Writes the
per-step global losses, the student's gradients and the objective's final state (anchor
queue, censor estimates, projections) to
OUT/rank<R>.pt (test_kd_batch_share.py compares them)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from training import ddp
from training.kd.alp import LayerProjection
from training.kd.batch_share import BatchShare
from training.kd.objective import KDObjective, ObjectiveOptions

ROWS, BATCH, STEPS = 40, 7, 12  # odd batch: the ranks' shares differ in size


def main(out: Path) -> None:
    if ddp.under_torchrun():
        dist.init_process_group("gloo")
    ranks = ddp.current()
    torch.manual_seed(0)
    x, y = torch.randn(ROWS, 6), torch.randn(ROWS, 5)
    y[3] *= 20.0  # one window the student cannot fit: the censor must drop it
    teacher_blocks = torch.randn(ROWS, 6)  # two teacher blocks, 4 and 2 wide
    block, head = torch.nn.Sequential(torch.nn.Linear(6, 3), torch.nn.Tanh()), torch.nn.Linear(3, 5)
    layers = LayerProjection([3], [4, 2], teacher_blocks.mean(0), teacher_blocks.std(0))
    objective = KDObjective(ObjectiveOptions(loss="mse+relational", relational_bank=16,
                                             intermediate="alp", censor="scaffold",
                                             censor_factor=1.5), 5, 5, ROWS, layers)
    params = [*block.parameters(), *head.parameters()]
    rng = np.random.default_rng(0)
    losses, grads = [], []
    for _ in range(STEPS):
        share = BatchShare(np.sort(rng.permutation(ROWS)[:BATCH]), ranks.rank, ranks.world)
        mine = share.local_rows
        hidden = block(x[mine])
        loss, value, _, _ = objective(head(hidden), y[mine], torch.from_numpy(mine), [hidden],
                                      teacher_blocks[mine], share)
        for p in [*params, *objective.parameters()]:
            p.grad = None
        loss.backward()
        ddp.average_gradients(params)  # what DDP does for the student
        ddp.average_gradients(objective.parameters())  # what distill does for the objective
        losses.append(value)
        grads.append(torch.cat([p.grad.flatten() for p in params]))
        with torch.no_grad():
            for p in [*params, *objective.parameters()]:
                p -= 0.1 * p.grad
    torch.save({"losses": torch.tensor(losses), "grads": torch.stack(grads),
                "state": objective.state_dict()}, out / f"rank{ranks.rank}.pt")
    ddp.finish()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
