"""Audio loading, downmixing, validation and resampling (numpy only)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from sea.errors import SeaError

RESAMPLERS = ("soxr", "resampy")


class AudioError(SeaError, ValueError):
    """An input that cannot be turned into usable audio; the message says why."""


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average channels of a (frames, channels) array; 1-D input is returned as is."""
    if audio.ndim == 1:
        return audio
    if audio.ndim != 2:
        raise AudioError(f"expected 1-D or 2-D audio, got shape {audio.shape}")
    return audio.mean(axis=1)


def check_finite(audio: np.ndarray, what: str = "audio") -> None:
    """Reject NaN/Inf samples: they would silently poison every window they touch."""
    if not np.all(np.isfinite(audio)):
        bad = int(np.count_nonzero(~np.isfinite(audio)))
        raise AudioError(f"{what} has {bad} NaN/Inf samples")


def read_info(path: str | Path) -> sf._SoundFileInfo:
    """soundfile's header info, with decoding failures turned into AudioError."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"no such file: {path}")
    if path.stat().st_size == 0:
        raise AudioError("empty file (0 bytes)")
    try:
        return sf.info(str(path))
    except Exception as exc:  # soundfile raises RuntimeError/LibsndfileError/TypeError
        raise AudioError(f"not readable as audio: {exc}") from exc


def load_audio(path: str | Path, dtype: str = "float64") -> tuple[np.ndarray, int]:
    """Read a whole file as mono; returns (samples, sample_rate).

    float64 by default because that is what openl3/edgel3 read (int16 / 32768).
    """
    info = read_info(path)
    if info.frames == 0:
        raise AudioError("file holds no audio frames")
    try:
        audio, sr = sf.read(str(path), dtype=dtype, always_2d=False)
    except Exception as exc:
        raise AudioError(f"decoding failed: {exc}") from exc
    audio = to_mono(np.asarray(audio))
    if audio.size == 0:
        raise AudioError("file holds no audio frames")
    check_finite(audio)
    return audio, int(sr)


def iter_audio_blocks(
    path: str | Path, block_frames: int, dtype: str = "float32"
) -> Iterator[np.ndarray]:
    """Stream a file as mono blocks of at most `block_frames` samples (bounded memory)."""
    read_info(path)
    try:
        with sf.SoundFile(str(path)) as f:
            while True:
                block = f.read(block_frames, dtype=dtype, always_2d=True)
                if len(block) == 0:
                    return
                mono = to_mono(block)
                check_finite(mono)
                yield mono
    except AudioError:
        raise
    except Exception as exc:
        raise AudioError(f"decoding failed: {exc}") from exc


def resample(
    audio: np.ndarray, sr_in: int, sr_out: int, method: str = "soxr"
) -> np.ndarray:
    """Resample 1-D audio.

    `soxr` (high quality) is the default. `resampy` uses kaiser_best, the filter openl3 and
    edgel3 use; resampy 0.2.2 reproduces their resampled audio bit for bit, 0.3+ does not.
    """
    if sr_in == sr_out:
        return audio
    if method == "soxr":
        import soxr

        out = soxr.resample(audio, sr_in, sr_out, quality="HQ")
        # Match the floor(N * sr_out / sr_in) length openl3/edgel3 frame counts rely on.
        n_out = int(np.floor(len(audio) * sr_out / sr_in))
        if len(out) < n_out:
            out = np.pad(out, (0, n_out - len(out)))
        return out[:n_out]
    if method == "resampy":
        return _resampy()(audio, sr_in, sr_out, filter="kaiser_best")
    raise ValueError(f"unknown resampler {method!r}; choose one of {RESAMPLERS}")


def _resampy():
    """resampy's resample function, warning when it cannot reproduce openl3/edgel3 exactly."""
    import importlib.metadata
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # resampy 0.2 imports the deprecated pkg_resources
            import resampy
    except ImportError as exc:
        raise ImportError("resampler 'resampy' needs: pip install 'resampy==0.2.2' 'setuptools<81'"
                          ) from exc
    version = importlib.metadata.version("resampy")
    if not version.startswith("0.2."):
        logging.getLogger(__name__).warning(
            "resampy %s does not reproduce openl3/edgel3 (they pin resampy 0.2.x; 0.3+ differs by "
            "up to 0.036 per sample). For exact reproduction: pip install 'resampy==0.2.2' "
            "'setuptools<81'", version)
    return resampy.resample


def load_resampled(
    path: str | Path, sr: int, method: str = "soxr", dtype: str = "float64"
) -> np.ndarray:
    """Load a file, downmix, and resample to `sr`."""
    audio, sr_in = load_audio(path, dtype=dtype)
    return resample(audio, sr_in, sr, method)
