"""The downstream classifiers: scikit-learn pipelines that standardise the features inside
each fold (the scaler only ever sees training data) and use fixed seeds."""

from __future__ import annotations

import re

import numpy as np

CLASSIFIER_HELP = ("logreg | svm (linear) | mlp (= mlp-128) | mlp-0 (no hidden layer) | "
                   "mlp-H or mlp-H-H with H in 128, 256")
_MLP = re.compile(r"mlp(?:-(\d+(?:-\d+)?))?$")


def parse_classifier(name: str) -> tuple[str, tuple[int, ...]]:
    """('logreg' | 'svm' | 'mlp', hidden layer sizes); ValueError for anything else."""
    if name in ("logreg", "svm"):
        return name, ()
    m = _MLP.match(name)
    if not m:
        raise ValueError(f"unknown classifier {name!r}: {CLASSIFIER_HELP}")
    sizes = tuple(int(s) for s in (m.group(1) or "128").split("-"))
    if sizes == (0,):
        return "mlp", ()
    if len(sizes) > 2 or any(s not in (128, 256) for s in sizes):
        raise ValueError(f"{name!r}: the MLP has 0, 1 or 2 hidden layers of 128 or 256")
    return "mlp", sizes


def make_classifier(name: str, multilabel: bool, seed: int = 0, max_iter: int = 500):
    """An unfitted Pipeline(StandardScaler, classifier); one binary model per class for
    multi-label logistic regression and SVM (the MLP is natively multi-label)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    family, hidden = parse_classifier(name)
    if family == "mlp":
        clf = MLPClassifier(hidden_layer_sizes=hidden, max_iter=max_iter, early_stopping=False,
                            random_state=seed)
    elif family == "logreg":
        clf = LogisticRegression(max_iter=max_iter, C=1.0)
    else:
        clf = LinearSVC(C=0.1, max_iter=5 * max_iter, random_state=seed)
    if multilabel and family != "mlp":
        clf = OneVsRestClassifier(clf)
    return make_pipeline(StandardScaler(), clf)


def class_scores(pipeline, X: np.ndarray, n_classes: int) -> np.ndarray:
    """(N, n_classes) scores, higher = likelier: probabilities where the model has them,
    else decision values. Columns of classes absent from the training fold get -inf."""
    final = pipeline[-1]
    raw = (pipeline.predict_proba(X) if hasattr(final, "predict_proba")
           else pipeline.decision_function(X))
    raw = np.asarray(raw, dtype=np.float64)
    classes = getattr(final, "classes_", None)
    if raw.ndim == 1:  # binary decision_function: score of classes_[1]
        raw = np.stack([-raw, raw], axis=1)
    if classes is None or np.array_equal(classes, np.arange(n_classes)):
        return raw
    out = np.full((len(X), n_classes), -np.inf)
    out[:, np.asarray(classes, dtype=np.int64)] = raw
    return out
