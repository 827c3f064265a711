"""Embed audio files with a teacher or student, writing one .npz per file (as openl3's CLI).

Each output `<output-dir>/<stem>[_<suffix>].npz` holds `embedding` (T x D float32) and
`timestamps` (T, seconds). Bad files are reported and skipped; the exit code is 1 if any file
failed. Files already embedded are kept (use --overwrite to redo them). With the default soxr
resampler files are streamed, so memory does not grow with their length.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from sea.audio import AudioError, load_audio, read_info
from sea.files import find_audio_files
from sea.stream import iter_file_windows

log = logging.getLogger("sea.embed")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files or directories (recursive)")
    parser.add_argument("--model", required=True,
                        help="config name (see `sea models`), student checkpoint dir, or .h5 file")
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
    parser.add_argument("--overwrite", action="store_true", help="recompute existing outputs")
    parser.add_argument("--precision", choices=("float32", "bf16"), default="float32",
                        help="float32 (default) or bf16 (CPUs with AVX512-BF16 / AMX, or CUDA; "
                             "refused elsewhere)")


def output_path(audio_path: Path, output_dir: Path | None, suffix: str) -> Path:
    stem = audio_path.stem + (f"_{suffix}" if suffix else "")
    return (output_dir or audio_path.parent) / f"{stem}.npz"


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
    from training.checkpoint import build_model
    from training.embedder import Embedder

    files, missing = find_audio_files(args.inputs)
    for path in missing:
        log.error("%s: no such file or directory", path)
    from training.inference import PrecisionUnavailable

    try:
        embedder = Embedder(build_model(args.model, weights=args.weights, config=args.config),
                            batch_size=args.batch_size, resampler=args.resampler, name=args.model,
                            precision=args.precision)
    except PrecisionUnavailable as exc:
        log.error("%s", exc)
        return 2
    failures = len(missing)
    done = 0
    for path in tqdm(files, desc="embed", unit="file"):
        out = output_path(path, args.output_dir, args.suffix)
        if out.exists() and not args.overwrite:
            log.info("%s: exists, skipped", out)
            continue
        try:
            embedding, timestamps = embed_file(embedder, path, args.hop, args.center)
        except AudioError as exc:
            log.error("%s: skipped: %s", path, exc)
            failures += 1
            continue
        atomic_save_npz(out, embedding=embedding, timestamps=timestamps)
        done += 1
    log.info("embedded %d files, %d failed, output in %s", done, failures,
             args.output_dir or "the input directories")
    return 1 if failures else 0
