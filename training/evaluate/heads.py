"""The classifier `sea evaluate` fits, as a numpy head (`sea.bundle.ClassifierHead` arrays).

A pipeline is StandardScaler -> LogisticRegression (one-vs-rest for multi-label) or
MLPClassifier (ReLU hidden layers). Its scaler becomes the head's `mean`/`scale`, its layers
the head's `weights_k`/`bias_k`; a binary classifier's single logit z becomes two softmax
outputs (0, z), which give exactly (1 - sigmoid(z), sigmoid(z)).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from sea.bundle import ClassifierHead
from training.evaluate.classifiers import class_scores, parse_classifier

HEAD_FAMILIES = ("logreg", "mlp")  # those with probabilities (LinearSVC has none)
# A converted head must reproduce the pipeline's probabilities to float32 round-off; far
# beyond it (here 1e-3) the conversion is wrong, not imprecise.
MAX_HEAD_DIFFERENCE = 1e-3


def check_head_classifier(name: str) -> None:
    """ValueError unless `name` is a classifier a head can carry."""
    family, _ = parse_classifier(name)
    if family not in HEAD_FAMILIES:
        raise ValueError(f"classifier {name!r}: a head is logreg or mlp[-H[-H]] (a linear SVM "
                         "gives no probabilities)")


def _binary_as_softmax(w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(D, 1) logit layer -> (D, 2) softmax layer with the same probabilities."""
    return np.concatenate([np.zeros_like(w), w], axis=1), np.concatenate([np.zeros_like(b), b])


def _constant_logit(estimator, dim: int) -> tuple[np.ndarray, float]:
    """scikit-learn's stand-in for a one-vs-rest class that never (or always) occurs."""
    p = float(np.ravel(estimator.predict_proba(np.zeros((1, dim))))[-1])
    return np.zeros(dim), 50.0 if p > 0.5 else -50.0  # sigmoid(+-50) is 1 or 0 in float32


def _layers(final, multilabel: bool, dim: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.neural_network import MLPClassifier

    if isinstance(final, MLPClassifier):
        if final.activation != "relu":
            raise ValueError(f"MLP activation {final.activation!r}: a head runs ReLU layers")
        layers = [(np.asarray(w), np.asarray(b)) for w, b in zip(final.coefs_,
                                                                 final.intercepts_)]
        if final.out_activation_ == "softmax":
            return layers, "softmax"
        if multilabel:
            return layers, "sigmoid"
        layers[-1] = _binary_as_softmax(*layers[-1])
        return layers, "softmax"
    if isinstance(final, OneVsRestClassifier):  # multi-label logistic regression
        columns = [(est.coef_.ravel(), float(est.intercept_[0])) if hasattr(est, "coef_")
                   else _constant_logit(est, dim) for est in final.estimators_]
        return [(np.stack([w for w, _ in columns], axis=1),
                 np.array([b for _, b in columns]))], "sigmoid"
    if isinstance(final, LogisticRegression):
        w, b = final.coef_.T, final.intercept_
        return [_binary_as_softmax(w, b) if w.shape[1] == 1 else (w, b)], "softmax"
    raise ValueError(f"{type(final).__name__} cannot be written as a head")


def head_arrays(pipeline, classes: list[str], multilabel: bool) -> dict[str, np.ndarray]:
    """The `head.npz` arrays of a fitted StandardScaler -> classifier pipeline."""
    scaler, final = pipeline[0], pipeline[-1]
    if not multilabel and not np.array_equal(getattr(final, "classes_", []),
                                             np.arange(len(classes))):
        raise ValueError("every class needs training clips for a head")
    dim = len(scaler.mean_)
    layers, activation = _layers(final, multilabel, dim)
    arrays = {"labels": np.array(classes), "activation": np.array(activation),
              "mean": scaler.mean_.astype(np.float32), "scale": scaler.scale_.astype(np.float32)}
    for k, (w, b) in enumerate(layers):
        arrays[f"weights_{k}"] = np.asarray(w, dtype=np.float32)
        arrays[f"bias_{k}"] = np.asarray(b, dtype=np.float32)
    return arrays


def head_difference(arrays: dict[str, np.ndarray], pipeline, X: np.ndarray) -> float:
    """Largest |head - pipeline| probability over the rows of X, the head read back from its
    .npz as the node reads it; raises ValueError when it is beyond float32 round-off (a
    conversion error)."""
    with tempfile.TemporaryDirectory(prefix="sea-head-") as tmp:
        np.savez(Path(tmp) / "head.npz", **arrays)
        ours = ClassifierHead(Path(tmp) / "head.npz")(X)
    theirs = class_scores(pipeline, X, len(arrays["labels"]))
    diff = float(np.max(np.abs(ours - theirs)))
    if not diff <= MAX_HEAD_DIFFERENCE:
        raise ValueError(f"the numpy head differs from the fitted classifier by {diff:.3g} "
                         "(a conversion error)")
    return diff
