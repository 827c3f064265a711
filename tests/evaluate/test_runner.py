"""Methods over folds on in-memory embeddings: a separable class scores high, noise labels
score at chance; finished folds are reused, not refitted."""

from __future__ import annotations

import numpy as np
import pytest

from training.evaluate import runner
from training.evaluate.embedding_cache import FrameEmbeddings
from training.evaluate.protocols import PROTOCOLS, EvalSet
from training.evaluate.runner import Method, run_folds, summarize

FRAMES_PER_CLIP = 3


def _frames(n_clips: int, shift_of_clip, seed: int = 0) -> FrameEmbeddings:
    """Gaussian frames; clips with shift_of_clip[i] get +4 on the first dimension."""
    rng = np.random.default_rng(seed)
    frames = rng.normal(size=(n_clips * FRAMES_PER_CLIP, 8)).astype(np.float32)
    frames[:, 0] += 4.0 * np.repeat(np.asarray(shift_of_clip, dtype=float), FRAMES_PER_CLIP)
    offsets = np.arange(n_clips + 1) * FRAMES_PER_CLIP
    return FrameEmbeddings(frames, offsets.astype(np.int64), None)


def _single_label_set(per_class: int = 150, n_folds: int = 5) -> tuple[EvalSet, FrameEmbeddings]:
    y = np.repeat([0, 1, 2], per_class)  # 0 separable, 1 and 2 identical noise
    folds = np.array([str(1 + i % n_folds) for i in range(len(y))], dtype=object)
    evalset = EvalSet(PROTOCOLS["esc50"], np.arange(len(y)), ["sep", "noise_a", "noise_b"], y,
                      folds)
    return evalset, _frames(len(y), y == 0)


@pytest.mark.parametrize("classifier,pooling", [("logreg", "mil"), ("svm", "max"),
                                                ("mlp-0", "mean")])
def test_separable_class_high_noise_classes_at_chance(tmp_path, classifier, pooling):
    evalset, emb = _single_label_set()
    method = Method(classifier, pooling)
    result = summarize(method, evalset, run_folds(method, evalset, emb, tmp_path,
                                                  progress=False))
    assert [f["fold"] for f in result["folds"]] == ["1", "2", "3", "4", "5"]
    assert result["per_class"]["sep"] > 0.97
    for noise in ("noise_a", "noise_b"):
        assert 0.3 < result["per_class"][noise] < 0.7  # chance between the two is 0.5
    assert 0.55 < result["mean"]["accuracy"] < 0.8  # (1 + 0.5 + 0.5) / 3
    assert np.asarray(result["confusion"]).sum() == len(evalset)
    assert result["std"]["accuracy"] == pytest.approx(
        np.std([f["accuracy"] for f in result["folds"]]))


def test_multilabel_auprc_high_for_audible_label_prevalence_for_random(tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    audible = (np.arange(n) % 2 == 0).astype(int)
    random = (rng.random(n) < 0.3).astype(int)
    y = np.stack([audible, random], axis=1)
    folds = np.array(["train"] * 150 + ["validate"] * 75 + ["test"] * 75, dtype=object)
    evalset = EvalSet(PROTOCOLS["sonyc-ust"], np.arange(n), ["audible", "random"], y, folds)
    method = Method("logreg", "mil", mil_aggregate="mean")
    result = summarize(method, evalset, run_folds(method, evalset, _frames(n, audible), tmp_path,
                                                  progress=False))
    assert [f["fold"] for f in result["folds"]] == ["validate", "test"]
    assert result["per_class"]["audible"] > 0.97
    for fold in result["folds"]:
        prevalence = y[folds == fold["fold"], 1].mean()
        assert abs(fold["per_class"]["random"] - prevalence) < 0.2
    assert "confusion" not in result


def test_finished_folds_are_reused(tmp_path, monkeypatch):
    evalset, emb = _single_label_set(per_class=20)
    method = Method("logreg", "mean")
    first = summarize(method, evalset, run_folds(method, evalset, emb, tmp_path, progress=False))

    def refit(*args, **kwargs):
        raise AssertionError("a finished fold was fitted again")

    monkeypatch.setattr(runner, "fit_and_score", refit)
    again = summarize(method, evalset, run_folds(method, evalset, emb, tmp_path, progress=False))
    assert again["folds"] == first["folds"]
    # other settings must not reuse those folds
    with pytest.raises(AssertionError, match="fitted again"):
        run_folds(Method("logreg", "mean", seed=1), evalset, emb, tmp_path, progress=False)
