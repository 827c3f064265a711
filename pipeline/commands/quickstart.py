"""Run the whole SEA pipeline in one command (offline too), on synthesized urban soundscapes.

Steps, each a `sea` command whose output lands in OUT: store/ (`sea prepare synth:N:SEED`),
teacher/ (`sea teacher-embed`: OpenL3 or EdgeL3 weights when on this machine, else the
published OpenL3 mel256-env weights downloaded (10 s timeout), else the published EdgeL3 SEA-64
weights shipped with sea, else a seeded random-weight L3 network; a banner says which and
why), reducer/ (random-sampled PCA to --dim, capped at the teacher's
width), student/ (`sea distill`: the SEA paper's student of that width, student2 for 128-d),
bundle/ (`sea export --quantize int8`, calibrated on the store), report/ (`sea evaluate
--protocol folds-multilabel` on the synth store's folds 1-5, multi-label clips: the int8 bundle,
the float student and, when pretrained and fast enough, the teacher), node/ (`sea-node run` on
the store's first clip). A finished step is skipped, so re-running the same command resumes.
Teacher embedding, distillation and evaluation run on 2 threads with fixed seeds, so the same
command gives the same numbers on every machine of one kind; the summary ends with the package
versions and the CPU that produced them. On an idle 2-core x86 CPU the defaults take about
3 minutes with the EdgeL3 SEA-64 teacher (docs/results.md, "Quickstart"). When the int8 export
misses its parity targets the bundle is exported as float16, with a banner.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sea.argtypes import learning_rate, positive_int, seconds


def _filters(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected four comma-separated integers, got {text!r}")
    if len(values) != 4 or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected four positive integers, got {text!r}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="directory for every step's output (created; re-use it to resume; "
                             "a non-empty directory that is not a quickstart's is refused)")
    parser.add_argument("--clips", type=int, default=100,
                        help="synthesized 10-s soundscapes to build (default 100)")
    parser.add_argument("--epochs", type=int, default=5, help="distillation epochs (default 5)")
    parser.add_argument("--teacher", default="auto",
                        help="teacher config name (see `sea models`) or auto (default): the best "
                             "teacher whose weights are on this machine, else a download of "
                             "the published OpenL3 mel256-env (see above)")
    parser.add_argument("--teacher-weights", metavar="PATH",
                        help="Keras .h5 weights for a named --teacher, e.g. --teacher "
                             "edgel3-sea-64 --teacher-weights edgel3_sea_ust_audio_emb_64.h5")
    parser.add_argument("--dim", type=positive_int, default=128,
                        help="PCA target size for --student auto (default 128, the paper's "
                             "Student 2; capped at the teacher's embedding size)")
    parser.add_argument("--student", default="auto",
                        help="auto (default: the paper's student with --dim outputs), "
                             "student0..student3, or custom (with --filters)")
    parser.add_argument("--filters", type=_filters, metavar="A,B,C,D",
                        help="custom student: filters per conv block, e.g. 8,16,16,32 (its "
                             "embedding size, the last number, sets the PCA size)")
    parser.add_argument("--lr", type=learning_rate, default=1e-3,
                        help="distillation learning rate (default 1e-3: few epochs)")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="distillation batch (64)")
    parser.add_argument("--eval-hop", type=seconds, default=1.0,
                        help="seconds between embedding windows in the evaluation (default 1.0)")
    parser.add_argument("--teacher-eval", choices=("auto", "yes", "no"), default="auto",
                        help="also evaluate the teacher: auto (default) does when its measured "
                             "speed fits in 3 minutes and its weights are pretrained")
    parser.add_argument("--seed", type=int, default=0, help="seed of the soundscapes and training")
    parser.add_argument("--overwrite", action="store_true",
                        help="start over in --out instead of resuming what is there")


def run(args: argparse.Namespace) -> int:
    from sea.cli import main as sea_main
    from pipeline.plan import QuickstartError, Settings
    from pipeline.quickstart import Quickstart
    from pipeline.summary import summary_text

    if args.clips < 2 or args.epochs < 1:
        raise QuickstartError("--clips must be at least 2 and --epochs at least 1")
    if args.teacher_weights and args.teacher == "auto":
        raise QuickstartError("--teacher-weights needs --teacher NAME, the architecture of the "
                              "weight file (e.g. edgel3-sea-64)")
    if args.filters and args.student not in ("auto", "custom"):
        raise QuickstartError("--filters needs --student custom (or auto)")
    if args.student == "custom" and not args.filters:
        raise QuickstartError("--student custom needs --filters, e.g. --filters 8,16,16,32")
    settings = Settings(clips=args.clips, seed=args.seed, epochs=args.epochs,
                        teacher=args.teacher, teacher_weights=args.teacher_weights,
                        dim=args.dim, student="custom" if args.filters else args.student,
                        filters=args.filters, lr=args.lr, batch_size=args.batch_size,
                        eval_hop=args.eval_hop, teacher_eval=args.teacher_eval)
    state = Quickstart(args.out, settings, sea_main, overwrite=args.overwrite).run()
    print(summary_text(args.out, state), flush=True)
    return 0
