"""Build a clip store from recordings, public datasets and synthesized soundscapes.

SOURCE is NAME:ARG, one of: folder:PATH (your recordings, recursive), urbansound8k:PATH,
esc50:PATH, esc10:PATH, sonyc-ust:PATH (the datasets in their original layout, read from their
own metadata files, offline), urban-eval:PATH (metadata.csv with file,dataset,label,fold), and
synth:N[:SEED] (N procedural 10 s urban soundscapes). Audio is downmixed and resampled once to
--sample-rate. Inputs that cannot be used are skipped and listed in the manifest with the
reason. Re-running the same command resumes an interrupted run; new sources are appended.
"""

from __future__ import annotations

import argparse

from sea.argtypes import regex, sample_rate, seconds, workers
from sea.cluster import add_ray_arguments, ray_options


def _folds(text: str) -> str:
    from data_prep.sources.folds import parse_folds

    try:
        return parse_folds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="NAME:ARG input spec")
    parser.add_argument("--out", required=True, help="clip store directory (created or extended)")
    parser.add_argument("--sample-rate", type=sample_rate, default=48000,
                        help="store sample rate in Hz (default 48000, the OpenL3 teacher's)")
    parser.add_argument("--workers", type=workers, default=1,
                        help="decoding processes (default 1: decode in this process)")
    parser.add_argument("--folder-labels", action="store_true",
                        help="folder:  label each file by its first sub-folder")
    parser.add_argument("--name-pattern", type=regex, metavar="REGEX",
                        help="folder:  regex over file names with named groups sensor and/or "
                             "time, e.g. '(?P<sensor>[^_]+)_(?P<time>\\d{8}T\\d{6})'")
    parser.add_argument("--folds", type=_folds, metavar="N|by-sensor|by-day",
                        help="folder:  assign folds for `sea evaluate --protocol folds`: N "
                        "(recordings hashed into N folds), by-sensor or by-day; one recording "
                        "(a file, or the `recording` group of --name-pattern) never spans two")
    parser.add_argument("--time-format", metavar="FMT",
                        help="folder:  strptime format of the time group (default ISO 8601)")
    parser.add_argument("--synth-duration", type=seconds, default=10.0,
                        help="synth:  scene length in seconds (default 10)")
    parser.add_argument("--synth-foreground", metavar="DIR",
                        help="synth:  use event files from DIR/<label>/ instead of procedural ones")
    parser.add_argument("--synth-background", metavar="DIR",
                        help="synth:  use background files from DIR/<any>/ instead of generated ones")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the clip store in --out instead of extending it")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--audio-dtype", choices=("auto", "float32", "int16"), default="auto",
                        help="stored sample type: int16 halves disk and I/O; auto (default) "
                             "picks int16 when every input is 16-bit PCM or narrower, float32 "
                             "otherwise; an existing store keeps its type")
    add_ray_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from data_prep.prepare import prepare
    from data_prep.sources import SourceOptions

    options = SourceOptions(folder_labels=args.folder_labels, name_pattern=args.name_pattern,
                            time_format=args.time_format, synth_duration=args.synth_duration,
                            synth_foreground=args.synth_foreground,
                            synth_background=args.synth_background, folds=args.folds)
    manifest = prepare(args.sources, args.out, sample_rate=args.sample_rate,
                       workers=args.workers, options=options, progress=not args.no_progress,
                       ray=ray_options(args), audio_dtype=args.audio_dtype,
                       overwrite=args.overwrite)
    print(f"{args.out}: {manifest['clips']} clips, {manifest['seconds']:.1f} s, "
          f"{len(manifest['skipped'])} skipped inputs, content {manifest['content_sha256'][:16]}")
    for row in manifest["skipped"][:10]:
        print(f"  skipped {row['path']}: {row['reason']}")
    if len(manifest["skipped"]) > 10:
        print(f"  ... {len(manifest['skipped']) - 10} more (see `sea store info {args.out}`)")
    return 0
