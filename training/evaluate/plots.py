"""Report figures (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np

from sea.manifest import atomic_write_bytes
from training.evaluate.metrics import finite_scores


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path, rect: tuple[float, float, float, float] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout(rect=rect)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=110, format=path.suffix.lstrip(".") or "png")
    atomic_write_bytes(path, buf.getvalue())
    _pyplot().close(fig)
    return path


def confusion_matrix(counts: np.ndarray, classes: Sequence[str], title: str, path: Path) -> Path:
    """Row-normalised confusion matrix (true class per row) with the raw counts written in."""
    plt = _pyplot()
    counts = np.asarray(counts)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = 2.5 + 0.45 * len(classes)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    if len(classes) <= 20:
        for i, j in np.ndindex(counts.shape):
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046)
    return _save(fig, path)


def pr_curves(y: np.ndarray, scores: np.ndarray, classes: Sequence[str], title: str,
              path: Path) -> Path:
    """One precision-recall curve per class with a positive clip, plus the micro average."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    plt = _pyplot()
    scores = finite_scores(scores)
    fig, ax = plt.subplots(figsize=(6, 5))
    curves = [(name, y[:, c], scores[:, c], dict(lw=1)) for c, name in enumerate(classes)
              if y[:, c].any()]
    curves.append(("micro", y.ravel(), scores.ravel(), dict(lw=2, color="k", ls="--")))
    for name, truth, score, style in curves:
        p, r, _ = precision_recall_curve(truth, score)
        ax.plot(r, p, label=f"{name} ({average_precision_score(truth, score):.2f})", **style)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    return _save(fig, path)


def _pca_2d(X: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Standardised clip embeddings projected on their first two principal components, with
    the share of variance each explains."""
    X = np.asarray(X, dtype=np.float64)
    X = (X - X.mean(axis=0)) / np.maximum(X.std(axis=0), 1e-12)
    _, s, vt = np.linalg.svd(X, full_matrices=False)
    xy = X @ vt[:2].T if vt.shape[0] >= 2 else np.c_[X @ vt[:1].T, np.zeros(len(X))]
    explained = (s[:2] ** 2 / max((s ** 2).sum(), 1e-12)).tolist() + [0.0]
    return xy, explained


def embedding_map(X: np.ndarray, labels: Sequence[str], title: str, path: Path) -> Path:
    """2-D PCA projection of clip embeddings (standardised), one colour per class."""
    plt = _pyplot()
    xy, explained = _pca_2d(X)
    fig, ax = plt.subplots(figsize=(8, 6))
    names = sorted(set(labels))
    cmap = plt.get_cmap("tab20" if len(names) > 10 else "tab10")
    labels = np.asarray(labels)
    for k, name in enumerate(names):
        sel = labels == name
        ax.scatter(xy[sel, 0], xy[sel, 1], s=16, alpha=0.8, color=cmap(k % cmap.N), label=name)
    ax.set_xlabel(f"PC1 ({explained[0]:.0%})", fontsize=10)
    ax.set_ylabel(f"PC2 ({explained[1]:.0%})", fontsize=10)
    ax.set_title(title, fontsize=11)
    if len(names) <= 20:
        ax.legend(fontsize=9, markerscale=1.5, bbox_to_anchor=(1.01, 1), loc="upper left")
    return _save(fig, path)


def embedding_map_multilabel(X: np.ndarray, y: np.ndarray, classes: Sequence[str], title: str,
                             path: Path) -> Path:
    """Multi-label clips: one small PCA map per class (same projection), clips with the label
    in colour over the others in grey, so overlapping labels stay readable."""
    plt = _pyplot()
    xy, explained = _pca_2d(X)
    # Panels of 4 x 3.6 in at 110 dpi (440 x 400 px) with 10-pt labels: readable at 100 %.
    cols = min(3, len(classes))
    rows = -(-len(classes) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.0 * cols, 3.6 * rows + 0.6),
                             sharex=True, sharey=True, squeeze=False)
    cmap = plt.get_cmap("tab10")
    for k, ax in enumerate(axes.flat):
        if k >= len(classes):
            ax.axis("off")
            continue
        on = np.asarray(y[:, k], dtype=bool)
        ax.scatter(xy[~on, 0], xy[~on, 1], s=10, color="0.8", label="other clips")
        ax.scatter(xy[on, 0], xy[on, 1], s=14, color=cmap(k % cmap.N), label=classes[k])
        ax.set_title(f"{classes[k]} ({int(on.sum())} clips)", fontsize=11)
        ax.tick_params(labelsize=9)
    for ax in axes[-1]:
        ax.set_xlabel(f"PC1 ({explained[0]:.0%})", fontsize=10)
    for ax in axes[:, 0]:
        ax.set_ylabel(f"PC2 ({explained[1]:.0%})", fontsize=10)
    handles = [plt.Line2D([], [], marker="o", ls="", color="0.8", label="clips without the label"),
               plt.Line2D([], [], marker="o", ls="", color=cmap(0), label="clips with it")]
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=10, frameon=False)
    fig.suptitle(title, fontsize=12)
    return _save(fig, path, rect=(0, 0.04, 1, 1))  # room for the legend below


def score_vs_size(points: Sequence[tuple[str, float, float, float]], metric: str,
                  path: Path) -> Path:
    """(label, size in bytes, score, std) per model/method: score against model size;
    `metric` is the y-axis label (with the direction that is better)."""
    from matplotlib.ticker import FuncFormatter

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    markers = "osD^vP*X"
    same_size: dict[float, int] = {}
    for k, (label, size, score, std) in enumerate(points):
        # methods of one model share its size: spread them sideways so none hides another
        slot = same_size[size] = same_size.get(size, -1) + 1
        ax.errorbar(size / 1e6 * 1.06 ** slot, score, yerr=std, fmt=markers[k % len(markers)],
                    capsize=3, label=label, alpha=0.85)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    sizes = sorted({size / 1e6 for _, size, _, _ in points})
    ax.set_xticks(sizes, [f"{v:.3g}" for v in sizes], fontsize=8)
    ax.set_xlim(min(sizes) / 1.5, max(sizes) * 1.8)
    ax.set_xlabel("model size (MB, smaller is better; methods of one model side by side)")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
    ax.set_title(f"{metric} vs model size", fontsize=9)
    return _save(fig, path)
