"""Embed audio files with a teacher or student, writing one .npz per file (as openl3's CLI).

Each output `<output-dir>/<stem>[_<suffix>].npz` holds `embedding` (T x D float32),
`timestamps` (T, seconds), `model_id` (changes whenever the weights do) and `settings_json`
(model, hop, centring, resampler, sea version); `sea.get_audio_embedding` returns the same
arrays. Bad files are reported and skipped; the exit code is 1 if any file failed. Files already embedded are kept (use --overwrite to redo them). With the default soxr
resampler files are streamed, so memory does not grow with their length.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from sea.api import get_audio_embedding, output_path
from sea.audio import AudioError
from sea.errors import SeaError
from sea.files import find_audio_files

log = logging.getLogger("sea.embed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files or directories (recursive)")
    parser.add_argument("--model", required=True,
                        help="config name (see `sea models`), CONFIG=PATH.h5, a .h5 file (with "
                             "--config), a student checkpoint dir, or a TFLite bundle dir")
    parser.add_argument("--weights", help="weight file for a named model (default: registry/cache)")
    parser.add_argument("--config", help="architecture of a bare .h5 --model (a `sea models` name)")
    parser.add_argument("--hop", type=float, default=0.1, help="hop between windows in seconds (0.1)")
    parser.add_argument("--no-center", dest="center", action="store_false",
                        help="do not pad half a window at the start (timestamps mark window starts)")
    parser.add_argument("--batch-size", type=int, default=32,
                        help="windows per forward pass (default 32)")
    parser.add_argument("--output-dir", type=Path, help="where .npz files go (default: beside each input)")
    parser.add_argument("--suffix", default="", help="appended to output names: <stem>_<suffix>.npz")
    parser.add_argument("--resampler", choices=("soxr", "resampy"), default="soxr",
                        help="soxr (default, fast, high quality) or resampy kaiser_best "
                             "(openl3/edgel3's; exact only with resampy 0.2.2)")
    parser.add_argument("--device", help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda if "
                             "available, else cpu; a TFLite bundle always runs on the cpu)")
    parser.add_argument("--overwrite", action="store_true", help="recompute existing outputs")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sea.api import embedding_settings, load_model, save_embedding

    files, missing = find_audio_files(args.inputs)
    for path in missing:
        log.error("%s: no such file or directory", path)
    try:
        model = load_model(args.model, weights=args.weights, device=args.device,
                           config=args.config, resampler=args.resampler,
                           batch_size=args.batch_size)
    except (ValueError, KeyError, FileNotFoundError) as exc:
        raise SeaError(f"--model {args.model}: {exc}") from exc
    settings = embedding_settings(model, args.hop, args.center)
    failures = len(missing)
    done = 0
    for path in tqdm(files, desc="embed", unit="file"):
        out = output_path(path, args.output_dir, args.suffix)
        if out.exists() and not args.overwrite:
            log.info("%s: exists, skipped", out)
            continue
        try:
            embedding, timestamps = get_audio_embedding(path, model=model, hop=args.hop,
                                                        center=args.center,
                                                        batch_size=args.batch_size)
        except AudioError as exc:
            log.error("%s: skipped: %s", path, exc)
            failures += 1
            continue
        save_embedding(out, embedding, timestamps, settings)
        done += 1
    log.info("embedded %d files, %d failed, output in %s", done, failures,
             args.output_dir or "the input directories")
    return 1 if failures else 0
