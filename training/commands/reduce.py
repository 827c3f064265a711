"""Fit a dimensionality reducer on sampled teacher embeddings and make the student targets.

Samples --n-fit windows of the embedding store (grouped by sensor-day when the clip store
records sensors/times, else by clip) with one of: random, loudness (louder windows likelier),
dpp-div (k-DPP diversity), dpp (loudness quality x diversity); fits pca, incremental-pca, umap,
random-projection or identity on them; then transforms every embedding into `targets.npy`.
PCA-type reducers are stored as mean + components, applied with numpy alone
(`sea.reducer.load_reducer`).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from sea.argtypes import positive_int

log = logging.getLogger("sea.reduce")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from sea.reducer import KINDS
    from training.sampling import STRATEGIES

    parser.add_argument("embeddings", type=Path, metavar="EMB", help="embedding store directory")
    parser.add_argument("--sampling", choices=STRATEGIES, default="random",
                        help="how the --n-fit windows are drawn, per timeframe/sensor group "
                             "(else per clip): random (default), loudness (louder likelier), "
                             "dpp-div (k-DPP diversity), dpp (loudness quality x diversity)")
    parser.add_argument("--n-fit", type=positive_int, default=500_000,
                        help="windows to fit the reducer on (default 500000, the paper's)")
    parser.add_argument("--reducer", choices=KINDS, default="pca",
                        help="the map fitted on the sample (default pca; incremental-pca for "
                             "data larger than memory)")
    parser.add_argument("--dim", type=positive_int, help="output dimension (not for identity)")
    parser.add_argument("--out", type=Path, required=True, metavar="RED",
                        help="reducer directory to write")
    parser.add_argument("--store", type=Path,
                        help="clip store (default: the one recorded in the embedding store)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the sampling and of randomized reducers (default 0)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a reducer already in --out")
    parser.add_argument("--max-dpp-size", type=positive_int, default=500,
                        help="exact k-DPP on chunks of at most this many windows per group")


def run(args: argparse.Namespace) -> int:
    from training.reduce import reduce_embeddings

    try:
        fields = reduce_embeddings(args.embeddings, args.out, args.sampling, args.n_fit,
                                   args.reducer, args.dim, args.seed, args.store,
                                   args.max_dpp_size, overwrite=args.overwrite)
    except (FileNotFoundError, ValueError, ImportError) as exc:
        log.error("%s", exc)
        return 2
    log.info("%s: %s reducer, %d targets x %d dims", args.out, args.reducer,
             fields["targets"]["rows"], fields["targets"]["dim"])
    return 0
