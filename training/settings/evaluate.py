"""Settings of `sea evaluate` and `sea head fit`, and of the library entry points that take the
same objects (`training.evaluate.pipeline.run_evaluation`, `training.evaluate.head_fit.fit_head`).
What both commands share (the clip store and its selection, how clips are embedded and cached,
how a classifier is fitted) is declared once, in `DownstreamSettings`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sea.cluster import RaySettings
from sea.settings import (AT_LEAST_ONE, POSITIVE, Constraint, CpuCount, OneOf, SettingError,
                          Settings, setting)
from training.evaluate.classifiers import CLASSIFIER_HELP, parse_classifier
from training.evaluate.heads import check_head_classifier
from training.evaluate.pooling import MIL_AGGREGATES, POOLINGS
from training.evaluate.protocols import PROTOCOLS

PROTOCOL_NAMES = tuple(sorted(PROTOCOLS))


@dataclass(frozen=True)
class Accepted(Constraint):
    """A value `accepts` takes without a ValueError (whose message says what is wrong)."""

    accepts: Callable[[Any], object]

    def problem(self, value: Any) -> str | None:
        try:
            self.accepts(value)
        except ValueError as exc:
            return str(exc)
        return None


@dataclass(frozen=True, kw_only=True)
class DownstreamSettings(Settings):
    """A classifier on a model's clip embeddings: what `sea evaluate` scores and `sea head fit`
    fits."""

    weights: str | None = setting(None, help="weights .h5 of a model given as a config name")
    data: Path = setting(help="labelled clip store (`sea prepare`)")
    out: Path = setting(help="directory to write: the report (evaluate) or the head (head fit)")
    datasets: tuple[str, ...] = setting(
        (), flag="--dataset", repeat=True, metavar="DATASET",
        help="use only clips of this dataset (repeatable; needed when the store holds several)")
    mil_aggregate: str = setting("max", check=OneOf(MIL_AGGREGATES),
                                 help="how MIL turns window scores into a clip score")
    hop: float = setting(0.1, check=POSITIVE, help="seconds between 1-s embedding windows")
    cache: Path | None = setting(
        None, help="embedding cache directory (default: OUT/cache for evaluate, a temporary "
                   "one for head fit); share it between reports and heads to embed each "
                   "(model, store) once")
    seed: int = setting(0, help="classifier seed")
    max_iter: int = setting(500, check=AT_LEAST_ONE, help="classifier iterations")
    threads: int | None = setting(
        None, check=CpuCount(),
        help="CPU threads of torch, of a bundle's TFLite interpreter (default 1) and of the "
             "classifiers' BLAS (default: every core); a fixed count repeats the scores to the "
             "bit on machines of the same kind")
    progress: bool = setting(True, flag="--no-progress", help="hide progress bars")
    overwrite: bool = setting(
        False, help="replace what {out} holds (default: resume a report; a head is refused)")


@dataclass(frozen=True, kw_only=True)
class EvaluateSettings(DownstreamSettings, RaySettings):
    models: tuple[str, ...] = setting(
        flag="--model", repeat=True, metavar="M",
        help="repeatable: a model config name (see `sea models`), CONFIG=PATH.h5 (Keras "
             "weights), a student checkpoint dir, a bundle dir or BUNDLE/micro (the --target "
             "micro build in tflite-micro)")
    protocol: str = setting(
        check=OneOf(PROTOCOL_NAMES),
        help="us8k (10-fold CV), esc50 (5-fold CV), folds (leave one fold out over the store's "
             "fold column, single-label clips), folds-multilabel (the same, multi-label AUPRC: "
             "synth scenes), sonyc-ust (train -> validate/test splits, multi-label AUPRC)")
    classifiers: tuple[str, ...] = setting(
        ("logreg", "mlp"), flag="--classifier", repeat=True, metavar="C",
        check=Accepted(parse_classifier), help=f"repeatable: {CLASSIFIER_HELP}")
    poolings: tuple[str, ...] = setting(
        (), flag="--pooling", repeat=True, check=OneOf(POOLINGS),
        help="repeatable; frames -> clip (default: mil for sonyc-ust, else mean)")
    batch_size: int = setting(64, check=AT_LEAST_ONE,
                              help="windows per forward pass when embedding")
    device: str | None = setting(None, help="torch device (default: cuda if available)")

    def check(self) -> None:
        if not self.models:
            raise SettingError("models", "{models} is required")
        if self.weights and len(self.models) > 1:
            raise SettingError("weights", "{weights} needs exactly one {models}; use "
                               "CONFIG=PATH.h5 instead")


@dataclass(frozen=True, kw_only=True)
class HeadFitSettings(DownstreamSettings):
    model: str = setting(
        metavar="M", help="the embedding model: a bundle dir (best: the node's own embeddings), "
                          "a student checkpoint dir, a config name or CONFIG=PATH.h5, as for "
                          "`sea evaluate`")
    protocol: str = setting(
        "folds", check=OneOf(PROTOCOL_NAMES),
        help="how the cross-validated score is measured, as in `sea evaluate` (folds: leave "
             "one fold out; multi-label sets: folds-multilabel or sonyc-ust)")
    classifier: str = setting(
        "logreg", metavar="C", check=Accepted(check_head_classifier),
        help="logreg, mlp, mlp-0, mlp-H or mlp-H-H (H: 128, 256)")
    pooling: str = setting("mean", check=OneOf(POOLINGS),
                           help="windows -> clip, and on the node windows -> period")
    period: float | None = setting(
        None, check=POSITIVE, metavar="SECONDS",
        help="the node's aggregation period (default: the clips' median length)")
    folds: tuple[str, ...] = setting(
        (), flag="--fold", repeat=True, metavar="FOLD",
        help="use only clips of this fold (repeatable; default: all folds)")
