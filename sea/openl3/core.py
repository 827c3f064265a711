"""openl3 0.4.2's audio functions on sea: same names, parameters, defaults and return values.

Checks, warnings and framing follow openl3's `core.py`; the embedding runs through sea's port
of the network (`sea.api`), so any sea model (`sea.load_model`) can be passed as `model`.
Inputs as in `sea.inputs`: a 2-D array is (samples, channels), as in openl3 and soundfile;
several sounds are a list. Torch tensors are accepted where arrays are, and give tensors back.
"""

from __future__ import annotations

import os
import warnings
from numbers import Real
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sea.audio import AudioError, check_finite, load_audio, resample
from sea.errors import InvalidArgument, SeaWarning, printable
from sea.framing import frame_audio
from sea.inputs import as_array, is_sound, like, mono
from sea.openl3.models import (OPENL3_RESAMPLER, load_audio_embedding_model, validate_choices,
                               validate_frontend)

PathLike = str | os.PathLike


def _check_options(center: Any, hop_size: Any, batch_size: Any, verbose: Any) -> None:
    if center not in (True, False):
        raise InvalidArgument(f"invalid center {center!r}: True or False")
    if isinstance(hop_size, bool) or not isinstance(hop_size, Real) or not 0 < hop_size < np.inf:
        raise InvalidArgument(f"invalid hop_size {hop_size!r}: a positive number of seconds")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise InvalidArgument(f"invalid batch_size {batch_size!r}: a positive integer")
    if verbose not in (0, 1):
        raise InvalidArgument(f"invalid verbose {verbose!r}: 0 or 1 (False or True)")


def _sample_rate(sr: Any, name: str) -> int:
    if isinstance(sr, bool) or not isinstance(sr, Real) or not (
            sr > 0 and float(sr).is_integer()):
        raise InvalidArgument(f"invalid sample rate {sr!r} for {name}: a positive whole number "
                              "of Hz")
    return int(sr)


def _windows(audio: Any, sr: Any, model: Any, hop_size: float, center: bool, resampler: str,
             name: str) -> np.ndarray:
    """The model's windows of one sound, with openl3's checks and warnings. Call it straight
    from the public function (no comprehension): its warnings point at the user's line."""
    audio = mono(as_array(audio, name), name)
    rate = _sample_rate(sr, name)
    check_finite(audio, name)
    if not np.any(audio):
        warnings.warn(f"{name} is all zeros", SeaWarning, stacklevel=3)
    target, window = model.sample_rate, model.cfg.frontend.window_seconds
    if int(hop_size * target) < 1:
        raise InvalidArgument(f"hop_size {hop_size} s is shorter than one sample at {target} Hz")
    audio = resample(np.asarray(audio, dtype=np.float64), rate, target, resampler)
    if len(audio) < window * target:
        warnings.warn(f"{name} is shorter than one window ({window:g} s): zero-padded",
                      SeaWarning, stacklevel=3)
    return frame_audio(audio, target, hop_size, center, window)[0]


def _model(model: Any, input_repr: Any, content_type: Any, embedding_size: Any,
           frontend: Any) -> Any:
    """openl3's choice checks; then the given model, or the one they name."""
    from sea.api import Model

    if model is not None and not isinstance(model, Model):
        raise InvalidArgument(f"model must be a sea model (load_audio_embedding_model(...) or "
                              f"sea.load_model(...)), got {type(model).__name__}")
    input_repr = validate_frontend(frontend, input_repr, stacklevel=4)
    validate_choices(content_type, embedding_size)
    return model or load_audio_embedding_model(input_repr, content_type, embedding_size)


def _embed(model: Any, windows: Sequence[np.ndarray], batch_size: int,
           hop_size: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """(embedding, timestamps) per sound; batches span consecutive sounds, as in openl3."""
    from sea.api import _embed_streams

    return [(e, np.arange(len(e)) * hop_size)
            for e in _embed_streams(model, list(windows), batch_size)]


def get_audio_embedding(audio: Any, sr: Any, model: Any = None, input_repr: str | None = None,
                        content_type: str = "music", embedding_size: int = 6144,
                        center: bool = True, hop_size: float = 0.1, batch_size: int = 32,
                        frontend: str = "kapre", verbose: bool = True, *,
                        resampler: str = OPENL3_RESAMPLER) -> tuple[Any, Any]:
    """openl3.get_audio_embedding: (embedding (T, D) float32, timestamps (T,) in seconds) of
    one sound, or two lists for a list of sounds.

    A sound is a numpy array or a torch tensor, (samples,) or (samples, channels), at `sr` Hz
    (one rate, or a list of one per sound); a tensor's results are tensors on its device.
    `model=None` loads openl3's model of (input_repr, content_type, embedding_size), by
    default mel256/music/6144. `resampler` (not in openl3): resampy, openl3's own, by default;
    soxr is sea's default elsewhere. `verbose` is accepted and checked; nothing is printed."""
    _check_options(center, hop_size, batch_size, verbose)
    single = is_sound(audio)
    if not single and not isinstance(audio, (list, tuple)):
        raise InvalidArgument(f"audio must be a numpy array, a torch tensor or a list of them, "
                              f"got {type(audio).__name__}")
    sounds = [audio] if single else list(audio)
    if isinstance(sr, (list, tuple)):
        rates = list(sr)
    elif isinstance(sr, Real):
        rates = [sr] * len(sounds)
    else:
        raise InvalidArgument(f"sr must be a number or a list of numbers, got {type(sr).__name__}")
    if len(rates) != len(sounds):
        raise InvalidArgument(f"{len(sounds)} sounds but {len(rates)} sample rates")
    model = _model(model, input_repr, content_type, embedding_size, frontend)
    names = ["audio"] if single else [f"audio[{i}]" for i in range(len(sounds))]
    windows = []
    for x, r, n in zip(sounds, rates, names):
        windows.append(_windows(x, r, model, hop_size, bool(center), resampler, n))
    results = [like(x, e, t) for x, (e, t) in zip(sounds, _embed(model, windows, batch_size,
                                                                    hop_size))]
    if single:
        return results[0]
    return [e for e, _ in results], [t for _, t in results]


def get_output_path(filepath: PathLike, suffix: str, output_dir: PathLike | None = None) -> str:
    """openl3.get_output_path: `<output_dir>/<name>_<suffix>`, or `<name><suffix>` when the
    suffix starts with a dot; beside the input without an output_dir."""
    base = Path(filepath).stem
    directory = output_dir if output_dir else os.path.dirname(filepath)
    name = base + suffix if suffix.startswith(".") else f"{base}_{suffix}"
    return os.path.join(directory, name)


def _paths(filepath: Any) -> list[Path]:
    items = [filepath] if isinstance(filepath, (str, os.PathLike)) else filepath
    if not isinstance(items, (list, tuple)) or not all(
            isinstance(p, (str, os.PathLike)) for p in items):
        raise InvalidArgument(f"filepath must be a path or a list of paths, got {filepath!r}")
    paths = [Path(p) for p in items]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise InvalidArgument(f"file not found: {', '.join(missing)}")
    return paths


def process_audio_file(filepath: Any, output_dir: PathLike | None = None,
                       suffix: str | None = None, model: Any = None,
                       input_repr: str | None = None, content_type: str = "music",
                       embedding_size: int = 6144, center: bool = True, hop_size: float = 0.1,
                       batch_size: int = 32, overwrite: bool = False, frontend: str = "kapre",
                       verbose: bool = True, *,
                       resampler: str = OPENL3_RESAMPLER) -> list[str]:
    """openl3.process_audio_file: embed audio files into `<name>[_<suffix>].npz` files holding
    `embedding` and `timestamps`, in `output_dir` (created if missing) or beside each input.
    Existing outputs are kept unless `overwrite`. Batches span consecutive files, as in openl3.
    Returns the output paths (openl3 returns None). Every path is checked before any work."""
    paths = _paths(filepath)
    _check_options(center, hop_size, batch_size, verbose)
    model = _model(model, input_repr, content_type, embedding_size, frontend)
    if output_dir:
        Path(output_dir).mkdir(parents=True, exist_ok=True)
    outputs = [get_output_path(p, (suffix or "") + ".npz", output_dir) for p in paths]
    pending: list[tuple[str, np.ndarray]] = []
    for k, (path, out) in enumerate(zip(paths, outputs)):
        if verbose:
            print(f"sea.openl3: processing {printable(path)} ({k + 1}/{len(paths)})")
        if os.path.exists(out) and not overwrite:
            if verbose:
                print(f"sea.openl3: {printable(out)} exists and overwrite is off: skipped")
            continue
        try:
            audio, sr = load_audio(path)
        except AudioError as exc:
            raise AudioError(f"{path}: {exc}") from exc
        pending.append((out, _windows(audio, sr, model, hop_size, bool(center), resampler,
                                      str(path))))
        if sum(len(w) for _, w in pending) >= batch_size:
            _save(model, pending, batch_size, hop_size, verbose)
            pending = []
    _save(model, pending, batch_size, hop_size, verbose)
    return outputs


def _save(model: Any, pending: list[tuple[str, np.ndarray]], batch_size: int, hop_size: float,
          verbose: bool) -> None:
    from sea.manifest import atomic_save_npz

    if not pending:
        return
    for (out, _), (embedding, timestamps) in zip(
            pending, _embed(model, [w for _, w in pending], batch_size, hop_size)):
        atomic_save_npz(out, embedding=embedding, timestamps=timestamps)
        if verbose:
            print(f"sea.openl3: saved {printable(out)}")
