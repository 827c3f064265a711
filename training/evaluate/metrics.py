"""Scores of out-of-fold predictions: accuracy and per-class recall for single-label sets;
micro-, macro- and per-class AUPRC for multi-label sets."""

from __future__ import annotations

import numpy as np


def single_label_scores(y: np.ndarray, scores: np.ndarray, n_classes: int) -> dict:
    pred = scores.argmax(axis=1)
    per_class = {}
    for c in range(n_classes):
        mask = y == c
        if mask.any():  # a class absent from this fold has no recall
            per_class[c] = float((pred[mask] == c).mean())
    return {"accuracy": float((pred == y).mean()),
            "balanced_accuracy": float(np.mean(list(per_class.values()))),
            "per_class": per_class}


def confusion(y: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts: rows are true classes, columns predicted classes."""
    out = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(out, (y, pred), 1)
    return out


def finite_scores(scores: np.ndarray) -> np.ndarray:
    """-inf (a class absent from the training fold) -> just below every real score."""
    ok = np.isfinite(scores)
    return np.where(ok, scores, scores[ok].min(initial=0.0) - 1.0)


def multilabel_scores(y: np.ndarray, scores: np.ndarray) -> dict:
    """AUPRC (average precision); classes without a positive clip in `y` are left out of the
    macro average, as their precision-recall curve is undefined."""
    from sklearn.metrics import average_precision_score

    finite = finite_scores(scores)
    per_class = {c: float(average_precision_score(y[:, c], finite[:, c]))
                 for c in range(y.shape[1]) if y[:, c].any()}
    return {"micro_auprc": float(average_precision_score(y.ravel(), finite.ravel())),
            "macro_auprc": float(np.mean(list(per_class.values()))) if per_class else float("nan"),
            "per_class": per_class}
