"""Classifier heads for the node: `sea head fit --model M --data STORE --out HEAD`.

Fits the downstream classifier `sea evaluate` scores (same protocols, classifiers, pooling and
embedding cache) on every selected clip, and writes HEAD/: head.npz (numpy weights, no pickle)
and manifest.json (classes, the embedding model's id, pooling, the node's aggregation period,
the protocol's cross-validated score, digests). `sea export MODEL --head HEAD` ships it in a
bundle (only for the model it was fitted on); `sea-node run` then writes the top classes per
window and per aggregation period (see docs/node.md, "Classifier heads").
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sea.argtypes import positive_int, seconds, threads


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from training.evaluate.pooling import MIL_AGGREGATES, POOLINGS
    from training.evaluate.protocols import PROTOCOLS

    sub = parser.add_subparsers(dest="head_command", metavar="ACTION", required=True)
    fit = sub.add_parser("fit", help="fit a head on a labelled clip store", description=__doc__,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    fit.add_argument("--model", required=True, metavar="M",
                     help="the embedding model: a bundle dir (best: the node's own "
                          "embeddings), a student checkpoint dir, a config name or "
                          "CONFIG=PATH.h5, as for `sea evaluate`")
    fit.add_argument("--weights", help="weights .h5 for a config-name --model")
    fit.add_argument("--data", required=True, type=Path, help="labelled clip store")
    fit.add_argument("--out", required=True, type=Path, help="head directory to create")
    fit.add_argument("--protocol", default="folds", choices=sorted(PROTOCOLS),
                     help="how the cross-validated score is measured, as in `sea evaluate` "
                          "(default folds: leave one fold out; multi-label sets: "
                          "folds-multilabel or sonyc-ust)")
    fit.add_argument("--classifier", default="logreg", metavar="C",
                     help="logreg (default), mlp, mlp-0, mlp-H or mlp-H-H (H: 128, 256)")
    fit.add_argument("--pooling", choices=POOLINGS, default="mean",
                     help="windows -> clip, and on the node windows -> period (default mean)")
    fit.add_argument("--mil-aggregate", choices=MIL_AGGREGATES, default="max",
                     help="MIL: how window scores make a clip's (default max)")
    fit.add_argument("--period", type=seconds, metavar="SECONDS",
                     help="the node's aggregation period (default: the clips' median length)")
    fit.add_argument("--dataset", action="append", default=[],
                     help="use only clips of this dataset (repeatable)")
    fit.add_argument("--fold", action="append", default=[],
                     help="use only clips of this fold (repeatable; default: all folds)")
    fit.add_argument("--hop", type=seconds, default=0.1,
                     help="seconds between 1-s embedding windows (default 0.1)")
    fit.add_argument("--cache", type=Path,
                     help="embedding cache directory (default: a temporary one); the same "
                          "--cache as `sea evaluate` embeds each (model, store) once")
    fit.add_argument("--seed", type=int, default=0, help="classifier seed (default 0)")
    fit.add_argument("--max-iter", type=positive_int, default=500,
                     help="classifier iterations (default 500)")
    fit.add_argument("--threads", type=threads,
                     help="CPU threads of the embedding model and the classifier's BLAS")
    fit.add_argument("--no-progress", action="store_true", help="hide progress bars")
    fit.add_argument("--overwrite", action="store_true", help="replace a head already in --out")


def run(args: argparse.Namespace) -> int:
    from sea.errors import SeaError
    from training.evaluate.head_fit import HeadConfig, fit_head

    cfg = HeadConfig(model=args.model, data=args.data, out=args.out, protocol=args.protocol,
                     classifier=args.classifier, pooling=args.pooling,
                     mil_aggregate=args.mil_aggregate, period_seconds=args.period,
                     hop_seconds=args.hop, datasets=args.dataset, folds=args.fold,
                     weights=args.weights, cache=args.cache, seed=args.seed,
                     max_iter=args.max_iter, threads=args.threads,
                     progress=not args.no_progress, overwrite=args.overwrite)
    try:
        manifest = fit_head(cfg)
    except (ValueError, FileNotFoundError, KeyError) as exc:  # bad arguments, store or model
        raise SeaError(str(exc).strip("'\"")) from exc
    score = manifest["score"]
    print(f"{args.out}: {manifest['classifier']} + {manifest['pooling']} head on "
          f"{manifest['model_id']}, {len(manifest['classes'])} classes; cross-validated "
          f"{score['metric']} {score['mean']:.3f} ± {score['std']:.3f} over "
          f"{len(score['folds'])} folds; node period {manifest['period_seconds']:g} s")
    return 0
