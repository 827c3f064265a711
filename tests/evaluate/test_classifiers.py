"""Classifier names, fold-internal standardisation, and scores for classes a fold lacks."""

from __future__ import annotations

import numpy as np
import pytest

from training.evaluate.classifiers import class_scores, make_classifier, parse_classifier


@pytest.mark.parametrize("name,expected", [
    ("logreg", ("logreg", ())), ("svm", ("svm", ())), ("mlp", ("mlp", (128,))),
    ("mlp-0", ("mlp", ())), ("mlp-256", ("mlp", (256,))), ("mlp-128-256", ("mlp", (128, 256))),
])
def test_parse_classifier(name, expected):
    assert parse_classifier(name) == expected


@pytest.mark.parametrize("name", ["mlp-64", "mlp-128-128-128", "rf", "mlp-"])
def test_parse_classifier_rejects_unknown(name):
    with pytest.raises(ValueError):
        parse_classifier(name)


@pytest.mark.parametrize("name", ["logreg", "svm", "mlp-0", "mlp-128"])
def test_scaler_is_fitted_on_training_data_only(name):
    rng = np.random.default_rng(0)
    X_train = rng.normal(5.0, 2.0, (60, 4))
    y_train = (X_train[:, 0] > 5).astype(int)
    pipe = make_classifier(name, multilabel=False, seed=0).fit(X_train, y_train)
    np.testing.assert_allclose(pipe[0].mean_, X_train.mean(axis=0))
    scores = class_scores(pipe, rng.normal(50.0, 1.0, (5, 4)), n_classes=2)
    assert scores.shape == (5, 2)


def test_seeded_classifiers_are_deterministic():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(80, 6)), rng.integers(0, 3, 80)
    a = class_scores(make_classifier("mlp-128", False, seed=3).fit(X, y), X, 3)
    b = class_scores(make_classifier("mlp-128", False, seed=3).fit(X, y), X, 3)
    np.testing.assert_array_equal(a, b)


def test_class_missing_from_training_fold_scores_minus_inf():
    X = np.array([[0.0], [0.1], [5.0], [5.1]])
    pipe = make_classifier("logreg", False).fit(X, np.array([0, 0, 2, 2]))
    scores = class_scores(pipe, X, n_classes=3)
    assert np.all(np.isneginf(scores[:, 1]))
    assert list(scores.argmax(axis=1)) == [0, 0, 2, 2]


@pytest.mark.parametrize("name", ["logreg", "svm", "mlp-0"])
def test_multilabel_scores_have_one_column_per_class(name):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 3))
    Y = np.stack([X[:, 0] > 0, X[:, 1] > 0], axis=1).astype(int)
    scores = class_scores(make_classifier(name, True).fit(X, Y), X, 2)
    assert scores.shape == (50, 2)
    assert np.corrcoef(scores[:, 0], X[:, 0])[0, 1] > 0.5
