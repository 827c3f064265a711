"""Parity of exported models against the torch model they came from.

Targets (issue 6): float32 TFLite vs torch: cosine >= 0.9999 on every window and probe.
Quantized (int8 / float16) vs float: every real window >= 0.99 cosine (issue 15: a mean hid
single windows at 0.94; `sea export --quantized-min-cosine` lowers the bound, the figure is
reported either way), mean cosine >= 0.99 over the real windows and over the probes
(silence, noise, sine), and no single probe below 0.95 (gross breakage, such as an int8
frontend on quiet audio, lands near 0.93).
"""

from __future__ import annotations

import numpy as np

from sea.errors import SeaError

FLOAT_MIN_COSINE = 0.9999
QUANTIZED_MEAN_COSINE = 0.99
QUANTIZED_MIN_COSINE = 0.99
QUANTIZED_PROBE_FLOOR = 0.95


class ParityError(SeaError):
    """An exported model does not reproduce the torch model closely enough."""


def cosine(a: np.ndarray, b: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Row-wise cosine similarity; two all-zero rows count as identical (1.0)."""
    a = np.atleast_2d(a).astype(np.float64)
    b = np.atleast_2d(b).astype(np.float64)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    both_zero = (na < eps) & (nb < eps)
    cos = (a * b).sum(axis=1) / np.maximum(na * nb, eps)
    return np.where(both_zero, 1.0, cos)


def compare(reference: np.ndarray, candidate: np.ndarray) -> dict:
    cos = cosine(reference, candidate)
    scale = float(np.abs(reference).max()) or 1.0
    return {
        "windows": int(len(cos)),
        "mean_cosine": float(cos.mean()),
        "min_cosine": float(cos.min()),
        "max_abs_diff": float(np.abs(reference - candidate).max()),
        "max_abs_reference": scale,
    }


def agreement(reference: np.ndarray, candidate: np.ndarray) -> dict:
    """`compare`, plus how many windows are bit-identical (two runs of the same integer model)."""
    return {**compare(reference, candidate),
            "identical_windows": int((reference == candidate).all(axis=1).sum())}


def check(report: dict, quantized: bool,
          quantized_min_cosine: float = QUANTIZED_MIN_COSINE) -> list[str]:
    """Failed targets of one variant's report {'real': compare(...), 'probes': {name: ...}}."""
    failures = []
    if quantized:
        if report["real"]["min_cosine"] < quantized_min_cosine:
            failures.append(f"real windows min cosine {report['real']['min_cosine']:.5f} "
                            f"< {quantized_min_cosine} (--quantized-min-cosine overrides)")
        if report["real"]["mean_cosine"] < QUANTIZED_MEAN_COSINE:
            failures.append(f"real windows mean cosine {report['real']['mean_cosine']:.5f} "
                            f"< {QUANTIZED_MEAN_COSINE}")
    elif report["real"]["min_cosine"] < FLOAT_MIN_COSINE:
        failures.append(f"real windows min cosine {report['real']['min_cosine']:.6f} "
                        f"< {FLOAT_MIN_COSINE}")
    probes = {name: r["min_cosine"] for name, r in report["probes"].items()}
    floor = QUANTIZED_PROBE_FLOOR if quantized else FLOAT_MIN_COSINE
    failures += [f"probe {name} cosine {cos:.6f} < {floor}"
                 for name, cos in probes.items() if cos < floor]
    if quantized and probes and np.mean(list(probes.values())) < QUANTIZED_MEAN_COSINE:
        failures.append(f"probes mean cosine {np.mean(list(probes.values())):.5f} "
                        f"< {QUANTIZED_MEAN_COSINE}")
    return failures
