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

import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from sea.api import NPZ_SETTINGS, get_audio_embedding, output_path
from sea.audio import AudioError
from sea.errors import SeaError
from sea.files import find_audio_files
from sea.safe_npz import read_npz
from sea.safe_write import check_not_an_input
from sea.settings import AT_LEAST_ONE, POSITIVE, FileNamePart, SettingError, setting
from sea.settings_cli import Command
from sea.weights import DEFAULT_MODEL
from training.settings.inference import InferenceSettings

log = logging.getLogger("sea.embed")


@dataclass(frozen=True, kw_only=True)
class EmbedSettings(InferenceSettings):
    inputs: tuple[Path, ...] = setting(positional=True, nargs="+", metavar="INPUT",
                                       help="audio files or directories (recursive)")
    model: str = setting(
        DEFAULT_MODEL,
        help="config name (see `sea models`), CONFIG=PATH.h5, a .h5 file (with {config}), a "
             "student checkpoint dir, or a TFLite bundle dir (default: "
             f"{DEFAULT_MODEL}, whose weights ship with sea)")
    weights: Path | None = setting(
        None, help="weight file for a named model (default: registry/cache)")
    config: str | None = setting(None, help="architecture of a bare .h5 {model} (a `sea models` "
                                            "name)")
    hop: float = setting(0.1, check=POSITIVE, help="hop between windows in seconds")
    center: bool = setting(
        True, flag="--no-center",
        help="do not pad half a window at the start (timestamps mark window starts)")
    batch_size: int = setting(32, check=AT_LEAST_ONE, help="windows per forward pass")
    output_dir: Path | None = setting(
        None, help="where .npz files go (default: beside each input)")
    suffix: str = setting("", check=FileNamePart(),
                          help="appended to output names: <stem>_<suffix>.npz (default: "
                               "none)")
    overwrite: bool = setting(False, help="recompute existing outputs")


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


def run(settings: EmbedSettings) -> int:
    from tqdm import tqdm

    from sea.api import embedding_settings, load_model, save_embedding
    from sea.output import claim_output

    try:
        model = load_model(settings.model, weights=settings.weights, device=settings.device,
                           config=settings.config, resampler=settings.resampler,
                           batch_size=settings.batch_size, precision=settings.precision)
    except SettingError:
        raise  # the CLI names the options
    except (ValueError, KeyError, FileNotFoundError) as exc:
        raise SeaError(f"--model {settings.model}: {exc}") from exc
    files, problems = find_audio_files(list(settings.inputs))
    for path, reason in problems:
        log.error("%s: skipped: %s", path, reason)
    check_unique_outputs(files, settings.output_dir, settings.suffix)
    record = embedding_settings(model, settings.hop, settings.center)
    lock = contextlib.nullcontext()
    if settings.output_dir is not None:  # any folder, as beside the inputs; outputs checked below
        lock = claim_output(settings.output_dir, OUTPUT_KIND, folder=True, layout=("*.npz",))
    failures = len(problems)
    done = 0
    with lock:
        for path in tqdm(files, desc="embed", unit="file"):
            out = output_path(path, settings.output_dir, settings.suffix)
            if out.exists() and not settings.overwrite:
                found = read_settings(out) or {}
                differs = [k for k in SAME_OUTPUT_KEYS if found.get(k) != record[k]]
                if not differs:
                    log.info("%s: exists, skipped", out)
                    continue
                log.error("%s: exists but was made by another model or settings (%s); pass "
                          "--overwrite to redo it", out,
                          "differs in " + ", ".join(differs) if found else "no settings record")
                failures += 1
                continue
            try:
                embedding, timestamps = get_audio_embedding(path, model=model, hop=settings.hop,
                                                            center=settings.center,
                                                            batch_size=settings.batch_size)
            except AudioError as exc:
                log.error("%s: skipped: %s", path, exc)
                failures += 1
                continue
            save_embedding(out, embedding, timestamps, record)
            done += 1
    log.info("embedded %d files, %d failed, output in %s", done, failures,
             settings.output_dir or "the input directories")
    return 1 if failures else 0


COMMAND = Command(EmbedSettings, run)
