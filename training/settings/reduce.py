"""Settings of `sea reduce` and of `training.reduce.reduce_embeddings` (the same object)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sea.reducer import KINDS
from sea.settings import AT_LEAST_ONE, Interval, OneOf, Settings, setting
from training.sampling import STRATEGIES


@dataclass(frozen=True, kw_only=True)
class ReduceSettings(Settings):
    embeddings: Path = setting(positional=True, metavar="EMB", help="embedding store directory")
    sampling: str = setting(
        "random", check=OneOf(STRATEGIES),
        help="how the {n_fit} windows are drawn, per timeframe/sensor group (else per clip): "
             "random, loudness (louder likelier), dpp-div (k-DPP diversity), dpp (loudness "
             "quality x diversity)")
    n_fit: int = setting(500_000, check=AT_LEAST_ONE,
                         help="windows to fit the reducer on (500000 is the paper's)")
    reducer: str = setting("pca", check=OneOf(KINDS),
                           help="the map fitted on the sample (incremental-pca for data larger "
                                "than memory)")
    dim: int | None = setting(None, check=AT_LEAST_ONE,
                              help="output dimension (not for identity)")
    out: Path = setting(metavar="RED", help="reducer directory to write")
    store: Path | None = setting(
        None, help="clip store (default: the one recorded in the embedding store)")
    seed: int = setting(0, help="seed of the sampling and of randomized reducers")
    overwrite: bool = setting(False, help="replace a reducer already in {out}")
    # a k-DPP needs at least two windows to choose between
    max_dpp_size: int = setting(500, check=Interval(2),
                                help="exact k-DPP on chunks of at most this many windows per group")
