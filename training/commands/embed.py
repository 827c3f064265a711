"""Embed audio files with a teacher or student, writing one .npz per file (as openl3's CLI).

Each output `<output-dir>/<stem>[_<suffix>].npz` holds `embedding` (T x D float32),
`timestamps` (T, seconds), `model_id` (changes whenever the weights do) and `settings_json`
(model, hop, centring, resampler, sea version); `sea.get_audio_embedding` returns the same
arrays. Bad files are reported and skipped; the exit code is 1 if any file failed. Files
already embedded by the same model and settings are kept; an output made by another model or
settings is never taken as done (it is an error unless --overwrite redoes it). Two inputs that
would write one output file are refused before anything runs. With the default soxr resampler
files are streamed, so memory does not grow with their length.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
from pathlib import Path

from sea.api import NPZ_SETTINGS, get_audio_embedding, output_path
from sea.argtypes import file_name_part, positive_int, seconds
from sea.audio import AudioError
from sea.errors import SeaError
from sea.files import find_audio_files
from sea.safe_npz import read_npz
from sea.weights import DEFAULT_MODEL
from sea.safe_write import check_not_an_input

log = logging.getLogger("sea.embed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files or directories (recursive)")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help="config name (see `sea models`), CONFIG=PATH.h5, a .h5 file (with "
                             "--config), a student checkpoint dir, or a TFLite bundle dir "
                             f"(default: {DEFAULT_MODEL}, whose weights ship with sea)")
    parser.add_argument("--weights", help="weight file for a named model (default: registry/cache)")
    parser.add_argument("--config", help="architecture of a bare .h5 --model (a `sea models` name)")
    parser.add_argument("--hop", type=seconds, default=0.1, help="hop between windows in seconds (0.1)")
    parser.add_argument("--no-center", dest="center", action="store_false",
                        help="do not pad half a window at the start (timestamps mark window starts)")
    parser.add_argument("--batch-size", type=positive_int, default=32,
                        help="windows per forward pass (default 32)")
    parser.add_argument("--output-dir", type=Path, help="where .npz files go (default: beside each input)")
    parser.add_argument("--suffix", type=file_name_part, default="", help="appended to output names: <stem>_<suffix>.npz")
    parser.add_argument("--resampler", choices=("soxr", "resampy"), default="soxr",
                        help="soxr (default, fast, high quality) or resampy kaiser_best "
                             "(openl3/edgel3's; exact only with resampy 0.2.2)")
    parser.add_argument("--device", help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda if "
                             "available, else cpu; a TFLite bundle always runs on the cpu)")
    parser.add_argument("--overwrite", action="store_true", help="recompute existing outputs")
    parser.add_argument("--precision", choices=("float32", "bf16"), default="float32",
                        help="float32 (default) or bf16 (CPUs with AVX512-BF16 / AMX, or CUDA; "
                             "refused elsewhere)")


OUTPUT_KIND = "audio-embeddings"
# What makes two outputs interchangeable (the --model text and the sea version may differ).
SAME_OUTPUT_KEYS = ("model_id", "hop", "center", "resampler")


def check_unique_outputs(files: list[Path], output_dir: Path | None, suffix: str) -> None:
    """Refuse inputs that would overwrite each other's output (a/x.wav and b/x.wav into one
    --output-dir, or x.wav and x.flac side by side), naming both, or their own input (an
    audio file named x.npz)."""
    seen: dict[Path, Path] = {}
    for path in files:
        out = output_path(path, output_dir, suffix)
        check_not_an_input(out, [path])
        other = seen.setdefault(out, path)
        if other != path:
            raise SeaError(f"{other} and {path} would both be written to {out}; embed them "
                           "into separate --output-dir folders or rename one")


def read_settings(path: Path) -> dict | None:
    """The settings record of an existing output; None when it has none (or is unreadable)."""
    try:
        data = read_npz(path, "embedding .npz", keys=[NPZ_SETTINGS])
        return json.loads(str(data[NPZ_SETTINGS])) if NPZ_SETTINGS in data else None
    except (OSError, ValueError, KeyError):
        return None


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sea.api import embedding_settings, load_model, save_embedding
    from sea.output import claim_output

    from training.inference import PrecisionUnavailable

    try:
        model = load_model(args.model, weights=args.weights, device=args.device,
                           config=args.config, resampler=args.resampler,
                           batch_size=args.batch_size, precision=args.precision)
    except PrecisionUnavailable as exc:
        raise SeaError(str(exc)) from exc
    except (ValueError, KeyError, FileNotFoundError) as exc:
        raise SeaError(f"--model {args.model}: {exc}") from exc
    files, problems = find_audio_files(args.inputs)
    for path, reason in problems:
        log.error("%s: skipped: %s", path, reason)
    check_unique_outputs(files, args.output_dir, args.suffix)
    settings = embedding_settings(model, args.hop, args.center)
    lock = contextlib.nullcontext()
    if args.output_dir is not None:  # any folder, as beside the inputs; outputs checked below
        lock = claim_output(args.output_dir, OUTPUT_KIND, folder=True, layout=("*.npz",))
    failures = len(problems)
    done = 0
    with lock:
        for path in tqdm(files, desc="embed", unit="file"):
            out = output_path(path, args.output_dir, args.suffix)
            if out.exists() and not args.overwrite:
                found = read_settings(out) or {}
                differs = [k for k in SAME_OUTPUT_KEYS if found.get(k) != settings[k]]
                if not differs:
                    log.info("%s: exists, skipped", out)
                    continue
                log.error("%s: exists but was made by another model or settings (%s); pass "
                          "--overwrite to redo it", out,
                          "differs in " + ", ".join(differs) if found else "no settings record")
                failures += 1
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
