"""Embed audio files with a teacher or student, writing one .npz per file (as openl3's CLI).

Each output `<output-dir>/<stem>[_<suffix>].npz` holds `embedding` (T x D float32),
`timestamps` (T, seconds) and `producer` (JSON: model, weights digest, hop, centring,
resampler). Bad files are reported and skipped; the exit code is 1 if any file failed. Files
already embedded by the same model and settings are kept; an output made by another model or
settings is never taken as done (it is an error unless --overwrite redoes it). Two inputs that
would write one output file are refused before anything runs. With the default soxr resampler
files are streamed, so memory does not grow with their length.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from sea.argtypes import file_name_part, positive_int, seconds
from sea.audio import AudioError, load_audio, read_info
from sea.errors import SeaError
from sea.files import find_audio_files
from sea.stream import iter_file_windows

log = logging.getLogger("sea.embed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files or directories (recursive)")
    parser.add_argument("--model", required=True,
                        help="config name (see `sea models`), student checkpoint dir, or .h5 file")
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
    parser.add_argument("--overwrite", action="store_true", help="recompute existing outputs")


def output_path(audio_path: Path, output_dir: Path | None, suffix: str) -> Path:
    stem = audio_path.stem + (f"_{suffix}" if suffix else "")
    return (output_dir or audio_path.parent) / f"{stem}.npz"


OUTPUT_KIND = "audio-embeddings"
# What makes two outputs interchangeable (the --model text may differ for the same weights).
PRODUCER_KEYS = ("model_sha256", "hop", "center", "resampler")


def check_unique_outputs(files: list[Path], output_dir: Path | None, suffix: str) -> None:
    """Refuse inputs that would overwrite each other's output (a/x.wav and b/x.wav into one
    --output-dir, or x.wav and x.flac side by side), naming both."""
    seen: dict[Path, Path] = {}
    for path in files:
        out = output_path(path, output_dir, suffix)
        other = seen.setdefault(out, path)
        if other != path:
            raise SeaError(f"{other} and {path} would both be written to {out}; embed them "
                           "into separate --output-dir folders or rename one")


def model_digest(model) -> str:
    """sha256 over the model's config and weights: changes whenever its embeddings can."""
    h = hashlib.sha256(json.dumps(model.cfg.to_dict(), sort_keys=True).encode())
    for name, tensor in model.state_dict().items():
        h.update(name.encode() + tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def read_producer(path: Path) -> dict | None:
    """The producer record of an existing output; None when it has none (or is unreadable)."""
    try:
        with np.load(path) as data:
            return json.loads(str(data["producer"])) if "producer" in data else None
    except (OSError, ValueError, KeyError):
        return None


def embed_file(embedder, path: Path, hop: float, center: bool) -> tuple[np.ndarray, np.ndarray]:
    """(embedding, timestamps) of one file; warns about silent or shorter-than-a-window audio."""
    window_seconds = embedder.cfg.frontend.window_seconds
    info = read_info(path)
    if info.frames < info.samplerate * window_seconds:
        log.warning("%s: %.3f s is shorter than one window; zero-padded", path, info.duration)
    if embedder.resampler == "resampy":  # exact openl3/edgel3 reproduction needs the whole signal
        audio, sr = load_audio(path)
        embedding, timestamps = embedder.embed(audio, sr, hop, center)
        peak = float(np.abs(audio).max())
    else:
        parts, peak, batch = [], 0.0, []
        windows = iter_file_windows(str(path), embedder.sample_rate, hop, center, window_seconds)
        for window in windows:
            peak = max(peak, float(np.abs(window).max()))
            batch.append(window)
            if len(batch) == embedder.batch_size:
                parts.append(embedder.embed_windows(np.stack(batch)))
                batch = []
        if batch:
            parts.append(embedder.embed_windows(np.stack(batch)))
        embedding = np.concatenate(parts)
        timestamps = np.arange(len(embedding)) * hop
    if peak == 0.0:
        log.warning("%s: silent audio (all zeros)", path)
    return embedding, timestamps


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sea.manifest import atomic_save_npz
    from sea.output import claim_output
    from training.checkpoint import build_model
    from training.embedder import Embedder

    files, problems = find_audio_files(args.inputs)
    for path, reason in problems:
        log.error("%s: skipped: %s", path, reason)
    check_unique_outputs(files, args.output_dir, args.suffix)
    model = build_model(args.model, weights=args.weights, config=args.config)
    producer = {"model": args.model, "model_sha256": model_digest(model), "hop": args.hop,
                "center": args.center, "resampler": args.resampler}
    embedder = Embedder(model, batch_size=args.batch_size, resampler=args.resampler,
                        name=args.model)
    lock = contextlib.nullcontext()
    if args.output_dir is not None:
        names = {output_path(p, args.output_dir, args.suffix).name for p in files}
        lock = claim_output(args.output_dir, OUTPUT_KIND, allowed=names)
    failures = len(problems)
    done = 0
    with lock:
        for path in tqdm(files, desc="embed", unit="file"):
            out = output_path(path, args.output_dir, args.suffix)
            if out.exists() and not args.overwrite:
                found = read_producer(out) or {}
                differs = [k for k in PRODUCER_KEYS if found.get(k) != producer[k]]
                if not differs:
                    log.info("%s: exists, skipped", out)
                    continue
                log.error("%s: exists but was made by another model or settings (%s); pass "
                          "--overwrite to redo it", out,
                          "differs in " + ", ".join(differs) if found else "no producer record")
                failures += 1
                continue
            try:
                embedding, timestamps = embed_file(embedder, path, args.hop, args.center)
            except AudioError as exc:
                log.error("%s: skipped: %s", path, exc)
                failures += 1
                continue
            atomic_save_npz(out, embedding=embedding, timestamps=timestamps,
                            producer=np.array(json.dumps(producer, sort_keys=True)))
            done += 1
    log.info("embedded %d files, %d failed, output in %s", done, failures,
             args.output_dir or "the input directories")
    return 1 if failures else 0
