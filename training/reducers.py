"""Fitting the map phi from teacher embeddings (n dims) to student targets (d dims)."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from sea.reducer import KINDS, Reducer
from sea.settings import SettingError

IPCA_BATCH = 4096


def check_dims(kind: str, in_dim: int, dim: int | None, n_fit: int) -> int:
    """The output dimension, or a SettingError saying why `dim` cannot work for `kind`."""
    if kind not in KINDS:
        raise ValueError(f"unknown reducer {kind!r}; choose one of {', '.join(KINDS)}")
    if kind == "identity":
        if dim not in (None, in_dim):
            raise SettingError("dim", f"the identity reducer keeps all {in_dim} dims; drop "
                               f"{{dim}} or use {{dim}} {in_dim}")
        return in_dim
    if dim is None or dim <= 0:
        raise SettingError("dim", f"reducer {kind} needs a positive {{dim}}")
    if kind in ("pca", "incremental-pca") and dim > min(in_dim, n_fit):
        raise SettingError("dim", f"{kind} can give at most min(embedding dim {in_dim}, "
                           f"fitted points {n_fit}) = {min(in_dim, n_fit)} dims, asked for "
                           f"{{dim}} {dim}")
    return dim


def fit_reducer(kind: str, rows: np.ndarray, embeddings: Callable[[np.ndarray], np.ndarray],
                in_dim: int, dim: int | None, seed: int = 0) -> tuple[Reducer, dict[str, Any]]:
    """Fit `kind` on the embeddings of `rows`; returns (reducer, fit report).

    `embeddings(rows)` returns float32 embeddings; incremental PCA calls it chunk by chunk so
    its fit set never has to fit in memory at once.
    """
    dim = check_dims(kind, in_dim, dim, len(rows))
    if kind in ("pca", "incremental-pca"):
        import sklearn.decomposition  # noqa: F401  (import time is not fit time)
    start = time.perf_counter()
    report: dict[str, Any] = {"explained_variance_ratio": None}
    if kind == "identity":
        reducer = Reducer(kind, in_dim, dim)
    elif kind == "incremental-pca":
        from sklearn.decomposition import IncrementalPCA

        batch = max(IPCA_BATCH, dim)
        model = IncrementalPCA(n_components=dim, batch_size=batch)
        for begin in range(0, len(rows), batch):
            chunk = rows[begin: begin + batch]
            if len(chunk) >= dim:  # partial_fit needs at least n_components samples
                model.partial_fit(embeddings(chunk))
        reducer = Reducer(kind, in_dim, dim, model.mean_, model.components_)
        report["explained_variance_ratio"] = model.explained_variance_ratio_.tolist()
    else:
        x = embeddings(rows)
        if kind == "pca":
            from sklearn.decomposition import PCA

            model = PCA(n_components=dim, random_state=seed).fit(x)
            reducer = Reducer(kind, in_dim, dim, model.mean_, model.components_)
            report["explained_variance_ratio"] = model.explained_variance_ratio_.tolist()
        elif kind == "random-projection":
            # Gaussian entries N(0, 1/d) as sklearn's GaussianRandomProjection; centred on the
            # fit mean so the targets are centred like PCA's.
            rng = np.random.default_rng(seed)
            components = rng.standard_normal((dim, in_dim)) / np.sqrt(dim)
            reducer = Reducer(kind, in_dim, dim, x.mean(axis=0), components)
        else:  # umap
            import umap

            model = umap.UMAP(n_components=dim, n_neighbors=min(50, len(x) - 1),
                              random_state=seed).fit(x)
            reducer = Reducer(kind, in_dim, dim, model=model)
    report["fit_seconds"] = round(time.perf_counter() - start, 3)
    if report["explained_variance_ratio"] is not None:
        report["explained_variance"] = float(np.sum(report["explained_variance_ratio"]))
    return reducer, report
