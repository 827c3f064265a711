"""Choosing the windows a reducer is fitted on (SEA paper, section 4.2).

Every strategy samples within groups: a sensor's timeframe (sensor id + calendar day of the
clip time) when the store records them, else a clip. The fit budget is shared among groups in
proportion to their size, so every sensor-day (or clip) is represented.

- `random`: uniform within each group.
- `loudness`: probability proportional to relevance, the rank of the window's A-weighted level
  within its group divided by the group size (louder = likelier). The paper ranks within a
  2-hour sliding window; a group here plays the role of that window.
- `dpp-div`: a k-DPP with kernel L = F F^T + 0.1 I on L1-normalised embeddings F (diversity).
- `dpp`: L = diag(q) F F^T diag(q) + 0.1 I with q the loudness relevance (quality x diversity).

DPP scaling (documented approximation): exact k-DPP sampling costs O(n^3) in the group size,
so a group larger than `max_dpp_size` windows is cut into consecutive chunks of at most that
size and each chunk gets an exact k-DPP with its share of the budget. Diversity is therefore
enforced within chunks (nearby moments of one sensor), not across them.

Note on the paper's kernel: an L1-normalised dense d-dim vector has squared L2 norm of order
1/d, so for dense 512-d embeddings the 0.1 ridge outweighs F F^T and the sample is close to
uniform; the diversity term bites when embeddings are sparse (few active units) or low-dim.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

STRATEGIES = ("random", "loudness", "dpp-div", "dpp")
DPP_RIDGE = 0.1


def group_ids(records: list, clip_pos: np.ndarray) -> tuple[np.ndarray, str]:
    """Group id per window row and what the groups are ('sensor-day' or 'clip')."""
    if any(r.sensor_id is not None or r.time is not None for r in records):
        keys = [f"{r.sensor_id or ''}|{(r.time or '')[:10]}" for r in records]
        _, per_clip = np.unique(np.array(keys), return_inverse=True)
        return per_clip.ravel()[clip_pos], "sensor-day"
    return np.asarray(clip_pos, dtype=np.int64), "clip"


def allocate(sizes: np.ndarray, n: int) -> np.ndarray:
    """Split `n` draws among groups in proportion to `sizes` (largest remainder, capped)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    n = min(int(n), int(sizes.sum()))
    share = sizes * (n / max(sizes.sum(), 1))
    counts = np.minimum(np.floor(share).astype(np.int64), sizes)
    order = np.argsort(-(share - counts), kind="stable")
    while counts.sum() < n:  # hand out the remainder where room is left
        room = order[counts[order] < sizes[order]]
        counts[room[: n - counts.sum()]] += 1
    return counts


def loudness_relevance(loudness: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Rank of each window's level within its group, scaled to (0, 1] (loudest = 1)."""
    relevance = np.empty(len(loudness), dtype=np.float64)
    for rows in _rows_by_group(groups):
        ranks = np.argsort(np.argsort(loudness[rows], kind="stable"), kind="stable")
        relevance[rows] = (ranks + 1) / len(rows)
    return relevance


def _rows_by_group(groups: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(groups, kind="stable")
    bounds = np.flatnonzero(np.diff(groups[order])) + 1
    return np.split(order, bounds)


def sample_k_dpp(kernel: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Exact sample of k items from the k-DPP with PSD `kernel` (Kulesza & Taskar, Alg. 8).

    Phase 1 picks k eigenvectors using elementary symmetric polynomials (in log space, so
    large groups cannot overflow); phase 2 samples the projection DPP they span, by the
    chain rule with Gram-Schmidt updates (O(n k^2)).
    """
    n = len(kernel)
    if not 0 < k <= n:
        raise ValueError(f"k-DPP needs 0 < k <= {n}, got k={k}")
    lam, vecs = np.linalg.eigh(kernel)
    with np.errstate(divide="ignore"):
        log_lam = np.log(np.clip(lam, 0.0, None))
    log_e = np.full((k + 1, n + 1), -np.inf)  # log e_l(lam_1..lam_m)
    log_e[0, :] = 0.0
    for m in range(1, n + 1):
        log_e[1:, m] = np.logaddexp(log_e[1:, m - 1], log_lam[m - 1] + log_e[:-1, m - 1])
    chosen, left = [], k
    for m in range(n, 0, -1):
        if left == 0:
            break
        p = 1.0 if m == left else np.exp(log_lam[m - 1] + log_e[left - 1, m - 1]
                                         - log_e[left, m])
        if rng.random() < p:
            chosen.append(m - 1)
            left -= 1
    basis = vecs[:, chosen]  # orthonormal (n, k): the projection kernel is basis @ basis.T
    norms = np.einsum("ij,ij->i", basis, basis)
    c = np.zeros((n, k))
    items = []
    for step in range(k):
        p = np.clip(norms, 0.0, None)
        p[items] = 0.0
        i = int(rng.choice(n, p=p / p.sum()))
        items.append(i)
        if step + 1 < k:
            c[:, step] = (basis @ basis[i] - c[:, :step] @ c[i, :step]) / np.sqrt(norms[i])
            norms = norms - c[:, step] ** 2
    return np.array(items, dtype=np.int64)


def dpp_kernel(features: np.ndarray, quality: np.ndarray | None = None) -> np.ndarray:
    """L = diag(q) F F^T diag(q) + 0.1 I with F the L1-normalised rows of `features`."""
    f = np.asarray(features, dtype=np.float64)
    f = f / np.maximum(np.abs(f).sum(axis=1, keepdims=True), 1e-12)
    if quality is not None:
        f = f * np.asarray(quality, dtype=np.float64)[:, None]
    return f @ f.T + DPP_RIDGE * np.eye(len(f))


def sample_rows(strategy: str, n_fit: int, groups: np.ndarray, rng: np.random.Generator,
                loudness: np.ndarray | None = None,
                features: Callable[[np.ndarray], np.ndarray] | None = None,
                max_dpp_size: int = 500) -> np.ndarray:
    """Sorted window rows chosen by `strategy` (see the module docstring).

    `loudness` (dB per row) is needed by `loudness` and `dpp`; `features(rows)` returning the
    embeddings of those rows is needed by the DPP strategies.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown sampling {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if n_fit <= 0:
        raise ValueError(f"n_fit must be positive, got {n_fit}")
    if strategy in ("loudness", "dpp") and loudness is None:
        raise ValueError(f"sampling {strategy!r} needs window loudness")
    if strategy.startswith("dpp") and features is None:
        raise ValueError(f"sampling {strategy!r} needs the embeddings")
    if max_dpp_size < 2:
        raise ValueError("max_dpp_size must be at least 2")
    relevance = loudness_relevance(loudness, groups) if loudness is not None else None
    units = _rows_by_group(groups)
    if strategy.startswith("dpp"):
        units = [chunk for rows in units
                 for chunk in np.array_split(rows, -(-len(rows) // max_dpp_size))]
    counts = allocate(np.array([len(u) for u in units]), n_fit)
    picked = []
    for rows, k in zip(units, counts):
        if k == 0:
            continue
        if k == len(rows):
            picked.append(rows)
        elif strategy == "random":
            picked.append(rng.choice(rows, size=k, replace=False))
        elif strategy == "loudness":
            p = relevance[rows]
            picked.append(rng.choice(rows, size=k, replace=False, p=p / p.sum()))
        else:
            quality = relevance[rows] if strategy == "dpp" else None
            picked.append(rows[sample_k_dpp(dpp_kernel(features(rows), quality), int(k), rng)])
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)
