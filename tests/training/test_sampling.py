"""Fit-set sampling: budgets per group, loudness preference, k-DPP exactness and diversity."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sea.store import ClipStore
from training.sampling import (allocate, dpp_kernel, group_ids, loudness_relevance,
                               sample_k_dpp, sample_rows)


def test_allocate_is_proportional_capped_and_exact():
    counts = allocate(np.array([10, 30, 60, 2]), 50)
    assert counts.sum() == 50 and np.all(counts <= [10, 30, 60, 2])
    assert list(allocate(np.array([3, 3]), 100)) == [3, 3]
    assert allocate(np.array([5, 5, 5]), 3).tolist() == [1, 1, 1]


def test_groups_by_sensor_day_when_known(tmp_path, make_store):
    plain = ClipStore(make_store(tmp_path / "plain", clips=4, seconds=1.0))
    groups, by = group_ids(plain.records, np.array([0, 0, 1, 3]))
    assert by == "clip" and groups.tolist() == [0, 0, 1, 3]
    sensed = ClipStore(make_store(tmp_path / "sensed", clips=6, seconds=1.0, sensors=True))
    groups, by = group_ids(sensed.records, np.arange(6))
    assert by == "sensor-day"
    # clips i and i + 6k share sensor (i % 2) and day (i % 3): 6 clips, 6 distinct pairs here
    assert len(np.unique(groups)) == 6


def test_loudness_sampling_prefers_loud_windows():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(20), 50)
    loudness = rng.uniform(-60, -10, size=len(groups))
    relevance = loudness_relevance(loudness, groups)
    assert relevance.max() == 1.0 and relevance.min() == pytest.approx(1 / 50)
    picked = sample_rows("loudness", 200, groups, rng, loudness=loudness)
    uniform = sample_rows("random", 200, groups, rng)
    assert len(picked) == 200 and len(np.unique(picked)) == 200
    # Each group gets its share (10 of 50) ...
    assert np.all(np.bincount(groups[picked], minlength=20) == 10)
    # ... and within groups the louder half is clearly preferred (expected share 2/3 vs 1/2).
    assert np.mean(relevance[picked] > 0.5) > 0.6
    assert np.mean(relevance[picked]) > np.mean(relevance[uniform]) + 0.08


def test_k_dpp_sample_has_the_exact_distribution():
    rng = np.random.default_rng(1)
    f = rng.standard_normal((5, 3))
    kernel = f @ f.T + 0.1 * np.eye(5)
    subsets = list(itertools.combinations(range(5), 2))
    det = np.array([np.linalg.det(kernel[np.ix_(s, s)]) for s in subsets])
    counts = dict.fromkeys(subsets, 0)
    for _ in range(4000):
        counts[tuple(sorted(sample_k_dpp(kernel, 2, rng)))] += 1
    empirical = np.array([counts[s] for s in subsets]) / 4000
    np.testing.assert_allclose(empirical, det / det.sum(), atol=0.03)


def test_dpp_div_picks_diverse_points():
    # Five clusters of very unequal size (sparse non-negative features, like ReLU embeddings
    # where few units fire): a diverse sample covers more of them than a uniform one.
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(5), [60, 20, 10, 5, 5])
    features = np.eye(8)[labels] + 0.05 * rng.random((len(labels), 8))
    groups = np.zeros(len(labels), dtype=np.int64)

    def coverage(strategy: str) -> float:
        return np.mean([len(np.unique(labels[sample_rows(
            strategy, 5, groups, np.random.default_rng(seed), features=lambda r: features[r])]))
            for seed in range(30)])

    assert coverage("dpp-div") > coverage("random") + 0.7


def test_dpp_quality_uses_loudness_and_chunks_large_groups():
    rng = np.random.default_rng(3)
    features = rng.random((300, 8))
    groups = np.zeros(300, dtype=np.int64)
    loudness = np.linspace(-80, 0, 300)  # later windows are louder
    rows = sample_rows("dpp", 60, groups, rng, loudness=loudness,
                       features=lambda r: features[r], max_dpp_size=100)
    assert len(rows) == 60 and len(np.unique(rows)) == 60
    assert np.all(np.bincount(rows // 100, minlength=3) == 20)  # 3 chunks, 20 each
    assert np.mean(rows) > 150  # quality pulls towards loud windows


def test_kernel_is_l1_normalised():
    kernel = dpp_kernel(np.array([[2.0, 2.0], [0.0, 5.0]]))
    np.testing.assert_allclose(np.diag(kernel), [0.5 + 0.1, 1.0 + 0.1])


@pytest.mark.parametrize("strategy, kwargs, message", [
    ("bogus", {}, "unknown sampling"),
    ("random", {"n_fit": 0}, "positive"),
    ("loudness", {}, "needs window loudness"),
    ("dpp-div", {}, "needs the embeddings"),
])
def test_bad_sampling_arguments(strategy, kwargs, message):
    args = {"n_fit": 5, **kwargs}
    with pytest.raises(ValueError, match=message):
        sample_rows(strategy, args["n_fit"], np.zeros(10, dtype=np.int64),
                    np.random.default_rng(0))
