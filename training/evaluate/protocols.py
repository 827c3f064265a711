"""Dataset protocols: which clips take part, their labels and folds, and the train/test splits.

Splits always follow the store's fold column (the datasets' predefined folds or official
splits), never a random split, so clips cut from one recording never straddle train and test.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from sea.errors import SeaError
from sea.settings import SettingError
from sea.store import ClipStore

log = logging.getLogger(__name__)


class ProtocolError(SeaError, ValueError):
    """The store cannot be evaluated with the requested protocol (the message says why)."""


class DatasetChoiceError(ProtocolError, SettingError):
    """The store holds several datasets and none was chosen (names the `datasets` setting)."""


@dataclass(frozen=True)
class Protocol:
    name: str
    multilabel: bool
    folds: tuple[str, ...] | None  # the predefined CV folds; None: whatever the store has
    metric: str  # headline score
    description: str
    holdout: bool = False  # train on 'train', score 'validate'/'test' (else leave-one-fold-out)


PROTOCOLS: dict[str, Protocol] = {
    "us8k": Protocol("us8k", False, tuple(str(i) for i in range(1, 11)), "accuracy",
                     "UrbanSound8K: 10-fold cross-validation over the predefined folds"),
    "esc50": Protocol("esc50", False, tuple(str(i) for i in range(1, 6)), "accuracy",
                      "ESC-50 / ESC-10: 5-fold cross-validation over the predefined folds"),
    "folds": Protocol("folds", False, None, "accuracy",
                      "leave-one-fold-out cross-validation over the store's fold column"),
    "folds-multilabel": Protocol(
        "folds-multilabel", True, None, "micro_auprc",
        "leave-one-fold-out cross-validation, multi-label (micro/macro/per-class AUPRC)"),
    "sonyc-ust": Protocol("sonyc-ust", True, None, "micro_auprc",
                          "SONYC-UST: train on 'train', score 'validate' and 'test' (multi-label)",
                          holdout=True),
}
TRAIN_SPLIT = "train"
EVAL_SPLITS = ("validate", "test")


@dataclass
class EvalSet:
    """The clips a protocol uses: store positions, labels (indices or indicator rows), folds."""

    protocol: Protocol
    positions: np.ndarray  # (N,) store positions
    classes: list[str]
    y: np.ndarray  # (N,) int class index, or (N, C) 0/1 for multi-label
    folds: np.ndarray  # (N,) str
    notes: list[str] = field(default_factory=list)  # coverage caveats and skipped clips

    def __len__(self) -> int:
        return len(self.positions)


def fold_order(fold: str) -> tuple:
    """Sort key: numbered folds numerically, then named splits alphabetically."""
    return (0, int(fold), "") if fold.isdigit() else (1, 0, fold)


def _pick_datasets(store: ClipStore, datasets: Sequence[str]) -> set[str]:
    present = Counter(r.dataset for r in store.records)
    if not datasets:
        if len(present) > 1:
            listing = ", ".join(f"{d} ({n} clips)" for d, n in sorted(present.items()))
            raise DatasetChoiceError("datasets", f"{store.path} holds several datasets: "
                                     f"{listing}; choose with {{datasets}}")
        return set(present)
    by_lower = {d.lower(): d for d in present}
    unknown = [d for d in datasets if d.lower() not in by_lower]
    if unknown:
        raise ProtocolError(f"no dataset {', '.join(unknown)} in {store.path}; "
                            f"it holds {', '.join(sorted(present))}")
    return {by_lower[d.lower()] for d in datasets}


def select(store: ClipStore, protocol: Protocol, datasets: Sequence[str] = (),
           folds: Sequence[str] = ()) -> EvalSet:
    """The protocol's clips of `store` (only those of `folds` when given); clips it cannot use
    are counted in `notes`."""
    chosen = _pick_datasets(store, datasets)
    wanted = {str(f) for f in folds}
    present = {str(r.fold) for r in store.records if r.dataset in chosen and r.fold is not None}
    if wanted - present:
        raise ProtocolError(f"no fold {', '.join(sorted(wanted - present, key=fold_order))} in "
                            f"{store.path}; it has {', '.join(sorted(present, key=fold_order))}")
    skipped: Counter[str] = Counter()
    rows = []
    for pos, rec in enumerate(store.records):
        if rec.dataset not in chosen:
            continue
        if rec.fold is None:
            skipped["no fold"] += 1
        elif wanted and str(rec.fold) not in wanted:
            skipped["in a fold not selected"] += 1
        elif not rec.labels and not protocol.multilabel:
            skipped["no label"] += 1
        elif not protocol.multilabel and len(rec.labels) > 1:
            skipped["several labels in a single-label protocol"] += 1
        else:
            rows.append((pos, rec.labels, str(rec.fold)))
    notes = [f"skipped {n} clips: {why}" for why, n in sorted(skipped.items())]
    unlabelled = sum(1 for r in rows if not r[1])
    if unlabelled:  # multi-label sets such as SONYC-UST: no class present in the clip
        notes.append(f"{unlabelled} clips carry no label: negatives for every class")
    for note in notes:
        log.warning("%s", note)
    if not any(r[1] for r in rows):
        raise ProtocolError(f"no labelled clips with a fold in {store.path} "
                            f"(datasets {', '.join(sorted(chosen))})")
    positions = np.array([r[0] for r in rows], dtype=np.int64)
    folds = np.array([r[2] for r in rows], dtype=object)
    classes = sorted({label for r in rows for label in r[1]})
    index = {c: i for i, c in enumerate(classes)}
    if protocol.multilabel:
        y = np.zeros((len(rows), len(classes)), dtype=np.int64)
        for i, r in enumerate(rows):
            y[i, [index[c] for c in r[1]]] = 1
    else:
        y = np.array([index[r[1][0]] for r in rows], dtype=np.int64)
    evalset = EvalSet(protocol, positions, classes, y, folds, notes)
    evalset.notes.extend(check_coverage(evalset))
    return evalset


def check_coverage(evalset: EvalSet) -> list[str]:
    """Raise when no split can be made; return caveats when the folds are incomplete."""
    protocol, present = evalset.protocol, sorted(set(evalset.folds), key=fold_order)
    if protocol.holdout:
        evals = [s for s in EVAL_SPLITS if s in present]
        if TRAIN_SPLIT not in present or not evals:
            raise ProtocolError(f"{protocol.name} needs a '{TRAIN_SPLIT}' split and a "
                                f"'validate' or 'test' split; the store's fold column has "
                                f"{', '.join(present)}")
        other = [s for s in present if s not in (TRAIN_SPLIT, *EVAL_SPLITS)]
        return [f"clips in splits {', '.join(other)} are not used"] if other else []
    if protocol.folds is not None:
        extra = [f for f in present if f not in protocol.folds]
        if extra:
            raise ProtocolError(f"{protocol.name} uses folds {protocol.folds[0]}-"
                                f"{protocol.folds[-1]}; the store also has {', '.join(extra)}")
    if len(present) < 2:
        needed = (f"its {len(protocol.folds)} predefined folds" if protocol.folds
                  else "at least two folds")
        raise ProtocolError(f"the selected clips cover fold {', '.join(present)} only: "
                            f"{protocol.name} cross-validation needs {needed}, so it cannot "
                            "be run on this store")
    if protocol.folds is not None and len(present) < len(protocol.folds):
        missing = [f for f in protocol.folds if f not in present]
        note = (f"INCOMPLETE: only folds {', '.join(present)} of {protocol.folds[0]}-"
                f"{protocol.folds[-1]} are present (missing {', '.join(missing)}): "
                f"{len(present)}-fold CV, not comparable with published {protocol.name} figures")
        log.warning("%s", note)
        return [note]
    return []


def splits(evalset: EvalSet) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, train indices, test indices) into the eval set, in fold order."""
    folds = evalset.folds
    if evalset.protocol.holdout:
        train = np.flatnonzero(folds == TRAIN_SPLIT)
        return [(s, train, np.flatnonzero(folds == s)) for s in EVAL_SPLITS if (folds == s).any()]
    return [(f, np.flatnonzero(folds != f), np.flatnonzero(folds == f))
            for f in sorted(set(folds), key=fold_order)]
