"""Tolerances from an error model, so that a numeric test holds on every CPU.

Machines differ in their float32 kernels (AVX2 or AVX-512 FFT paths, NEON on aarch64), so a
bound read off one machine's run fails on another. The bounds here follow from float32's unit
round-off and the size of the computation; the float64 computation of the same input is the
"exact" value they are measured against.
"""

from __future__ import annotations

import math

import numpy as np

EPS32 = float(np.finfo(np.float32).eps)
DB_PER_NEPER = 10.0 / math.log(10.0)  # d(10 log10 S) = DB_PER_NEPER * dS / S
# Headroom over the statistical estimates below: round-off is a sum of many small terms whose
# spread, not worst case, sets the error; a factor 8 covers the tail of that spread.
SAFETY = 8.0


def float32_db_tolerance(exact_db: np.ndarray, n_fft: int) -> np.ndarray:
    """Per-bin bound on |float32 log-mel - exact log-mel| for one (..., bins, frames) image.

    A float32 FFT's relative error in the 2-norm is about eps32 * log2(n_fft); spread over its
    n_fft / 2 bins, each bin's magnitude is off by about eps32 * log2(n_fft) / sqrt(n_fft) of
    the largest magnitude. The images are in dB relative to their maximum (kapre's rule), so a
    bin at L dB (L <= 0) has S_max / S = 10^(-L / 10), and its dB error is DB_PER_NEPER times
    that relative error. On top: float32 rounding of the dB value itself (eps32 * 80 dB).
    Near the -80 dB floor the bound exceeds the whole range: float32 cannot resolve such bins.
    """
    per_bin = EPS32 * math.log2(n_fft) / math.sqrt(n_fft)
    relative = per_bin * np.power(10.0, -np.asarray(exact_db, dtype=np.float64) / 10.0)
    return SAFETY * (DB_PER_NEPER * relative + EPS32 * 80.0)


def assert_db_close(ours: np.ndarray, exact_db: np.ndarray, n_fft: int) -> None:
    """Every bin within its float32 bound; says where and by how much when it fails."""
    diff = np.abs(np.asarray(ours, np.float64) - exact_db)
    bound = float32_db_tolerance(exact_db, n_fft)
    worst = np.unravel_index(np.argmax(diff / bound), diff.shape)
    assert np.all(diff <= bound), (
        f"bin {worst}: |diff| {diff[worst]:.3g} dB > bound {bound[worst]:.3g} dB "
        f"at {exact_db[worst]:.1f} dB")


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.where(norms > 0, (a * b).sum(1) / np.maximum(norms, 1e-300), 1.0)
