"""Evaluate featurizers the way users judge them: small classifiers (logistic regression, MLP,
linear SVM) on their clip embeddings, with each dataset's own folds (us8k: 10-fold CV, esc50:
5-fold CV, folds: any fold column, folds-multilabel: the same with multi-label AUPRC,
sonyc-ust: train -> validate/test, multi-label AUPRC).
Embeddings are cached per (model, store, hop) and finished folds are kept, so reruns resume.
Writes results.json, report.md, report.json, plots/ and index.html to --out, and prints the score
table (mean ± std over folds, params, size, per-window network latency) at the end."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from sea.argtypes import positive_int, seconds, threads
from sea.cluster import add_ray_arguments, ray_options

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from training.evaluate.classifiers import CLASSIFIER_HELP
    from training.evaluate.pooling import MIL_AGGREGATES, POOLINGS
    from training.evaluate.protocols import PROTOCOLS

    parser.add_argument("--model", action="append", required=True, metavar="M",
                        help="repeatable: a model config name (see `sea models`), "
                        "CONFIG=PATH.h5 (Keras weights), a student checkpoint dir, a bundle dir "
                        "or BUNDLE/micro (the --target micro build in tflite-micro)")
    parser.add_argument("--weights", help="weights .h5 for a single config-name --model")
    parser.add_argument("--data", required=True, type=Path, help="clip store (sea prepare)")
    parser.add_argument("--protocol", required=True, choices=sorted(PROTOCOLS),
                        help="us8k (10-fold CV), esc50 (5-fold CV), folds (leave one fold "
                        "out over the store's fold column, single-label clips), "
                        "folds-multilabel (the same, multi-label AUPRC: synth scenes), sonyc-ust "
                        "(train -> validate/test splits, multi-label AUPRC)")
    parser.add_argument("--out", required=True, type=Path, help="report directory")
    parser.add_argument("--dataset", action="append", default=[],
                        help="use only clips of this dataset (repeatable; needed when the "
                        "store holds several)")
    parser.add_argument("--classifier", action="append", metavar="C",
                        help=f"repeatable (default: logreg and mlp): {CLASSIFIER_HELP}")
    parser.add_argument("--pooling", action="append", choices=POOLINGS,
                        help="repeatable; frames -> clip (default: mil for sonyc-ust, else mean)")
    parser.add_argument("--mil-aggregate", choices=MIL_AGGREGATES, default="max",
                        help="how MIL turns frame scores into a clip score (default max)")
    parser.add_argument("--hop", type=seconds, default=0.1,
                        help="seconds between 1-s embedding windows (default 0.1)")
    parser.add_argument("--cache", type=Path,
                        help="embedding cache directory (default OUT/cache); share it "
                        "between reports to embed each (model, store) once")
    parser.add_argument("--seed", type=int, default=0, help="classifier seed (default 0)")
    parser.add_argument("--max-iter", type=positive_int, default=500, help="classifier iterations")
    parser.add_argument("--batch-size", type=positive_int, default=64,
                        help="windows per forward pass when embedding (default 64)")
    parser.add_argument("--device", help="torch device (default: cuda if available)")
    parser.add_argument("--threads", type=threads,
                        help="CPU threads of torch, of a bundle's TFLite interpreter (default 1) "
                             "and of the classifiers' BLAS (default: every core); a fixed "
                             "count repeats the scores to the bit on machines of the same kind")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_ray_arguments(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a report already in --out (default: resume it)")


def run(args: argparse.Namespace) -> int:
    from sea.errors import SeaError
    from training.evaluate.classifiers import parse_classifier
    from sea.models import parse_model
    from training.evaluate.pipeline import EvaluationConfig, run_evaluation

    classifiers = args.classifier or ["logreg", "mlp"]
    try:
        for name in classifiers:
            parse_classifier(name)
        if args.weights and len(args.model) > 1:
            raise ValueError("--weights needs exactly one --model; use CONFIG=PATH.h5 instead")
        for text in args.model:  # a missing path is a bad argument, found before any work
            parse_model(text, args.weights)
        cfg = EvaluationConfig(
            models=args.model, data=args.data, protocol=args.protocol, out=args.out,
            classifiers=classifiers, poolings=args.pooling or (),
            mil_aggregate=args.mil_aggregate, hop_seconds=args.hop, datasets=args.dataset,
            weights=args.weights, cache=args.cache, seed=args.seed, max_iter=args.max_iter,
            batch_size=args.batch_size, device=args.device, threads=args.threads,
            progress=not args.no_progress, ray=ray_options(args), overwrite=args.overwrite)
        results = run_evaluation(cfg)
    except (ValueError, FileNotFoundError) as exc:  # bad arguments or store: a message, no trace
        raise SeaError(str(exc)) from exc
    from training.evaluate.report import summary_text

    print(summary_text(results), flush=True)
    ok = [m for m in results["models"] if "error" not in m]
    log.info("report: %s (%d of %d models evaluated)", args.out / "index.html", len(ok),
             len(results["models"]))
    return 0 if len(ok) == len(results["models"]) else 1  # README: 1 = some inputs failed
