"""`sea evaluate` twice, with nothing shared between the runs: the same embeddings and the same
classifier scores to the bit (fixed seeds, fixed --threads for torch and the classifiers'
BLAS), which is what lets a README table name the command that reproduces it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sea.cli import main

pytest.importorskip("torch")
pytest.importorskip("sklearn")

TIMING = {"fit_seconds", "network_latency_ms", "seconds_per_window"}


def _scores(method: dict) -> list[dict]:
    return [{k: v for k, v in fold.items() if k not in TIMING} for fold in method["folds"]]


def test_two_runs_give_identical_embeddings_and_scores(tmp_path, toy_store, tiny_student):
    results = []
    for run in ("a", "b"):
        out = tmp_path / run
        assert main(["evaluate", "--model", str(tiny_student), "--data", str(toy_store),
                     "--protocol", "esc50", "--hop", "0.5", "--threads", "2", "--no-progress",
                     "--classifier", "mlp", "--max-iter", "100",  # the seeded one
                     "--out", str(out)]) == 0
        results.append(json.loads((out / "results.json").read_text())["models"][0])
    a, b = results
    assert_same_arrays(tmp_path, "cache/*/part-*.npz", keys=("frames", "counts"))
    assert a["methods"].keys() == b["methods"].keys() == {"mlp+mean"}
    for key in a["methods"]:
        assert _scores(a["methods"][key]) == _scores(b["methods"][key]), key
        assert a["methods"][key]["mean"] == b["methods"][key]["mean"]
    # the raw out-of-fold scores, not just the metrics computed from them
    assert_same_arrays(tmp_path, "runs/*/*/fold-*.npz", keys=("test", "scores"))


def assert_same_arrays(tmp_path, pattern: str, keys) -> None:
    """Every .npz of run a matching `pattern` equals its twin in run b, array by array."""
    files = sorted((tmp_path / "a").glob(pattern))
    assert files, pattern
    for path in files:
        twin = tmp_path / "b" / path.relative_to(tmp_path / "a")
        with np.load(path, allow_pickle=False) as x, np.load(twin, allow_pickle=False) as y:
            for key in keys:
                assert np.array_equal(x[key], y[key]), (path, key)
