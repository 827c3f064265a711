"""`sea head fit`: the evaluate classifier as numpy head arrays, its score from the same
protocol code as `sea evaluate`, and the head artifact's checks."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from sea.cli import main
from sea.head import HeadError, read_head
from training.evaluate.classifiers import make_classifier
from training.evaluate.heads import head_arrays, head_difference

# float32 head vs float64 scikit-learn on 8-d inputs: logits of a few units carry ~1e-6
# relative round-off, so probabilities agree to ~1e-6; 2e-5 leaves room, a wrong conversion
# is off by far more.
ROUND_OFF = 2e-5


def _data(n_classes: int, multilabel: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(120, 8)) * 3 + 1
    if multilabel:
        y = (X[:, :n_classes] + rng.normal(size=(120, n_classes)) > 1).astype(int)
        y[:, -1] = 0  # a class that never occurs: scikit-learn's constant predictor
        return X, y
    return X, np.argmax(X[:, :n_classes] + rng.normal(size=(120, n_classes)), axis=1)


@pytest.mark.parametrize("name,n_classes,multilabel", [
    ("logreg", 3, False), ("logreg", 2, False), ("mlp-0", 3, False), ("mlp", 2, False),
    ("mlp-128-128", 3, False), ("logreg", 3, True), ("mlp", 3, True), ("mlp-0", 3, True),
])
def test_head_reproduces_the_fitted_classifier(name, n_classes, multilabel):
    X, y = _data(n_classes, multilabel)
    pipeline = make_classifier(name, multilabel, seed=0, max_iter=60).fit(X, y)
    arrays = head_arrays(pipeline, [f"c{i}" for i in range(n_classes)], multilabel)
    assert str(arrays["activation"]) == ("sigmoid" if multilabel else "softmax")
    assert head_difference(arrays, pipeline, X) <= ROUND_OFF
    fresh = np.random.default_rng(5).normal(size=(50, 8)) * 3
    assert head_difference(arrays, pipeline, fresh) <= ROUND_OFF


def test_head_difference_catches_a_wrong_conversion():
    X, y = _data(3, False)
    pipeline = make_classifier("logreg", False).fit(X, y)
    arrays = head_arrays(pipeline, ["a", "b", "c"], False)
    arrays["weights_0"] = arrays["weights_0"][:, ::-1].copy()  # classes swapped
    with pytest.raises(ValueError, match="conversion error"):
        head_difference(arrays, pipeline, X)


def _fit(tiny_student, store, out, *extra):
    return main(["head", "fit", "--model", str(tiny_student), "--data", str(store), "--out",
                 str(out), "--hop", "0.5", "--no-progress", *extra])


def test_fit_scores_as_evaluate_does(tmp_path, tiny_student, toy_store):
    cache = tmp_path / "cache"
    assert main(["evaluate", "--model", str(tiny_student), "--data", str(toy_store),
                 "--protocol", "esc50", "--classifier", "logreg", "--hop", "0.5", "--cache",
                 str(cache), "--out", str(tmp_path / "report"), "--no-progress"]) == 0
    assert _fit(tiny_student, toy_store, tmp_path / "head", "--protocol", "esc50",
                "--cache", str(cache), "--period", "3") == 0
    head = read_head(tmp_path / "head")
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    method = results["models"][0]["methods"]["logreg+mean"]
    assert head.manifest["score"]["mean"] == method["mean"]["accuracy"]
    assert head.manifest["score"]["folds"] == {f["fold"]: f["accuracy"]
                                               for f in method["folds"]}
    assert head.model_id == results["models"][0]["id"]  # a checkpoint's id is its own
    assert head.head.labels == ["noise_a", "noise_b", "tone"]
    assert head.manifest["period_seconds"] == 3.0 and head.manifest["pooling"] == "mean"
    assert head.manifest["fit"]["n_train"] == 60  # all folds


def test_fit_on_selected_folds_and_multilabel(tmp_path, tiny_student, toy_store, ust_store):
    assert _fit(tiny_student, toy_store, tmp_path / "three", "--fold", "1", "--fold", "2",
                "--fold", "3", "--classifier", "mlp-0") == 0
    manifest = read_head(tmp_path / "three").manifest
    assert set(manifest["score"]["folds"]) == {"1", "2", "3"}
    assert manifest["fit"]["n_train"] == 36
    assert manifest["period_seconds"] == 1.0  # the clips' median length
    assert _fit(tiny_student, ust_store, tmp_path / "ust", "--protocol", "sonyc-ust",
                "--pooling", "mil") == 0
    head = read_head(tmp_path / "ust")
    assert head.head.activation == "sigmoid" and head.manifest["multilabel"]
    assert head.manifest["score"]["metric"] == "micro_auprc"
    assert head.bundle_entry()["pooling"] == "mil"


@pytest.mark.parametrize("extra,message", [
    (("--classifier", "svm"), "no probabilities"),
    (("--fold", "9"), "no fold 9"),
])
def test_fit_refusals_are_one_line(tmp_path, tiny_student, toy_store, caplog, capsys, extra,
                                   message):
    assert _fit(tiny_student, toy_store, tmp_path / "head", *extra) == 2
    assert message in caplog.text + capsys.readouterr().err  # argparse errors go to stderr
    assert not (tmp_path / "head" / "manifest.json").exists()


def test_read_head_refuses_damage(tmp_path, tiny_student, toy_store):
    assert _fit(tiny_student, toy_store, tmp_path / "head") == 0
    with pytest.raises(HeadError, match="is a file"):
        read_head(tmp_path / "head" / "head.npz")
    altered = shutil.copytree(tmp_path / "head", tmp_path / "altered")
    with np.load(altered / "head.npz") as data:
        arrays = dict(data)
    arrays["bias_0"] = arrays["bias_0"] + 1
    np.savez(altered / "head.npz", **arrays)
    with pytest.raises(HeadError, match="does not match its recorded sha256"):
        read_head(altered)
    with pytest.raises(HeadError, match="not a classifier head"):
        read_head(tmp_path)
