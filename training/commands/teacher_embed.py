"""Embed every window of a clip store with a teacher, into an embedding store.

Rows of the output follow `ClipStore.window_index(1.0, --hop, --center)`. Output is written in
shards; re-running the same command after an interruption computes only the missing shards.
Runs on CUDA when present, else on every CPU core (or --threads: the same count gives the same
embeddings to the bit on machines of one kind). `--teacher auto` picks OpenL3 mel256-env,
then EdgeL3 SEA-512, then SEA-64 (the first whose weights are on this machine, SEA-64 being
shipped with sea; auto never
downloads); without any it stops and says what to do. A seeded random-weight network, only
good for testing the pipeline, is used only when named: `--teacher random:CONFIG`. --block-features
also stores each teacher block's mean-pooled activations in EMB/blocks (same rows).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from sea.argtypes import positive_int, seconds, threads
from sea.cluster import add_ray_arguments, ray_options

log = logging.getLogger("sea.teacher_embed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", type=Path, metavar="STORE", help="clip store directory")
    parser.add_argument("--teacher", default="auto",
                        help="config name (see `sea models`), checkpoint dir, auto (default), "
                        "or random:CONFIG for seeded random weights")
    parser.add_argument("--weights", help="Keras .h5 weights for a named --teacher")
    parser.add_argument("--out", type=Path, required=True, metavar="EMB",
                        help="embedding store directory to write (or resume)")
    parser.add_argument("--hop", type=seconds, default=1.0, help="hop between windows, s (1.0)")
    parser.add_argument("--center", action="store_true",
                        help="centre windows on hop multiples (pad half a window at the start)")
    parser.add_argument("--float16", action="store_true", help="store embeddings as float16")
    parser.add_argument("--batch-size", type=positive_int, default=64,
                        help="windows per forward pass (default 64)")
    parser.add_argument("--shard-rows", type=positive_int, default=4096, help="windows per shard file")
    parser.add_argument("--device", help="torch device (default: cuda when present, else cpu)")
    parser.add_argument("--resampler", choices=("soxr", "resampy"), default="soxr",
                        help="store rate -> teacher rate resampler (default soxr; resampy is "
                             "the one OpenL3/EdgeL3 used)")
    parser.add_argument("--threads", type=threads,
                        help="CPU threads for torch (default: every core; fewer can be faster "
                             "on a machine busy with other work)")
    parser.add_argument("--seed", type=int, default=0, help="seed of a random-weight teacher")
    add_ray_arguments(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an embedding store already in --out (default: resume it)")
    parser.add_argument("--precision", choices=("float32", "bf16"), default="float32",
                        help="float32 (default) or bf16: about 3x faster on CPUs with bf16 units "
                             "(AVX512-BF16 / AMX) or CUDA, cosine >= 0.999 to float32; refused "
                             "elsewhere")
    parser.add_argument("--block-features", action="store_true",
                        help="also store each teacher block's mean-pooled activations in "
                             "EMB/blocks (for `sea distill --intermediate alp`)")


def run(args: argparse.Namespace) -> int:
    from sea.store import ClipStore
    from sea.weights import WeightsUnavailable
    from training.teacher import load_teacher
    from training.teacher_embed import embed_store

    try:
        ray = ray_options(args)
        store = ClipStore(args.store)
        model, info = load_teacher(args.teacher, args.weights, args.seed)
        manifest = embed_store(store, model, args.out, info, hop_seconds=args.hop,
                               center=args.center,
                               dtype="float16" if args.float16 else "float32",
                               batch_size=args.batch_size, shard_rows=args.shard_rows,
                               device=args.device, resampler=args.resampler,
                               threads=args.threads, ray=ray, overwrite=args.overwrite,
                               precision=args.precision,
                               block_features=args.block_features)
    except (FileNotFoundError, KeyError, ValueError, WeightsUnavailable) as exc:
        log.error("%s", exc.args[0] if isinstance(exc, KeyError) else exc)
        return 2
    cfg = manifest["config"]
    log.info("%s: %d windows x %d dims (%s) from teacher %s", args.out, cfg["num_rows"],
             cfg["dim"], cfg["dtype"], info["name"])
    return 0
