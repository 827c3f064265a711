"""Distillation terms on toy data where each one's effect is known."""

from __future__ import annotations

import numpy as np
import torch

from training.kd.alp import LayerProjection
from training.kd.objective import KDObjective, ObjectiveOptions
from training.kd.relational import SimilarityDistillation


def _rotation(dim: int, seed: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=torch.Generator().manual_seed(seed)))
    return q


def test_relational_loss_ignores_rotation_and_scale_of_the_targets():
    g = torch.Generator().manual_seed(0)
    student, target = torch.randn(32, 8, generator=g), torch.randn(32, 8, generator=g)
    earlier_s, earlier_t = torch.randn(64, 8, generator=g), torch.randn(64, 8, generator=g)
    turn = _rotation(8, 1) * 3.7
    plain, turned = SimilarityDistillation(8, 8, 128), SimilarityDistillation(8, 8, 128)
    plain(earlier_s, earlier_t)  # fill both queues with the same (rotated) earlier batch
    turned(earlier_s, earlier_t @ turn)
    plain.eval(), turned.eval()
    a, b = plain(student, target), turned(student, target @ turn)
    # float32 cosines to ~1e-7, divided by the temperature 0.1: logits agree to ~1e-5
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    assert a.mean() > 0.1  # unrelated geometries: a real, nonzero loss
    mse = lambda t: float(((student - t) ** 2).mean())  # noqa: E731
    assert abs(mse(target @ turn) - mse(target)) > 1.0  # MSE, by contrast, is not invariant
    # A student that is a rotated, rescaled copy of the teacher has the teacher's geometry
    # (anchors: the batch itself, so both sides see the same windows).
    in_batch = SimilarityDistillation(8, 8, 0)
    assert float(in_batch(0.2 * target @ _rotation(8, 2), target).max()) < 1e-5


def test_relational_queue_keeps_the_latest_anchors():
    rel = SimilarityDistillation(2, 2, bank_size=5)
    for step in range(3):  # batches of two windows pointing along (step + 1, 1)
        batch = torch.tensor([[step + 1.0, 1.0]] * 2)
        rel(batch, batch)
    assert int(rel.filled) == 5  # the oldest window of the first batch was overwritten
    slopes = rel.bank_teacher[:, 0] / rel.bank_teacher[:, 1]
    assert sorted(round(v, 5) for v in slopes.tolist()) == [1.0, 2.0, 2.0, 3.0, 3.0]


def _fit_linear(objective: KDObjective, x: torch.Tensor, y: torch.Tensor, steps: int = 300
                ) -> torch.nn.Linear:
    torch.manual_seed(0)
    model = torch.nn.Linear(x.shape[1], y.shape[1], bias=False)
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        rows = torch.from_numpy(rng.permutation(len(x))[:16])
        loss, _, _, _ = objective(model(x[rows]), y[rows], rows)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def test_censoring_down_weights_an_injected_unlearnable_window():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(64, 8, generator=g)
    y = x @ torch.randn(8, 4, generator=g)
    bad = 5
    y[bad] = 30.0 * torch.randn(4, generator=g)  # no linear map fits this one with the rest
    censored = KDObjective(ObjectiveOptions(censor="scaffold"), 4, 4, len(x))
    plain = KDObjective(ObjectiveOptions(), 4, 4, len(x))
    fit_censored, fit_plain = _fit_linear(censored, x, y), _fit_linear(plain, x, y)
    censor = censored.censor
    others = torch.arange(len(x)) != bad
    assert censor.error[bad] > 10 * censor.error[others].median()
    weights = censor(torch.arange(16), (fit_censored(x[:16]) - y[:16]).pow(2).mean(1).detach())
    assert weights[bad] == 0.0 and bool((weights[torch.arange(16) != bad] == 1.0).all())
    clean_error = lambda m: float((m(x[others]) - y[others]).pow(2).mean())  # noqa: E731
    assert clean_error(fit_censored) < 0.1 * clean_error(fit_plain)


def test_a_transient_spike_is_not_censored():
    from training.kd.censor import ScaffoldCensor

    censor = ScaffoldCensor(8)
    rows = torch.arange(8)
    for _ in range(5):
        censor(rows, torch.ones(8))
    spike = torch.ones(8)
    spike[2] = 10.0  # one bad step: the running estimate moves to 1.9, under 3x the mean
    assert bool((censor(rows, spike) == 1.0).all())


def test_alp_attends_to_the_teacher_block_that_explains_the_student_block():
    g = torch.Generator().manual_seed(0)
    student = torch.randn(256, 4, generator=g)
    relevant = student @ torch.randn(4, 6, generator=g)
    teacher = torch.cat([torch.randn(256, 5, generator=g), relevant,
                         torch.randn(256, 7, generator=g)], dim=1)
    alp = LayerProjection([4], [5, 6, 7], teacher.mean(0), teacher.std(0))
    opt = torch.optim.Adam(alp.parameters(), lr=0.05)
    for _ in range(200):
        loss, _ = alp([student], teacher)
        opt.zero_grad()
        loss.mean().backward()
        opt.step()
    loss, attention = alp([student], teacher)
    assert attention[0, 1] > 0.9, attention
    assert float(loss.mean()) < 0.05
