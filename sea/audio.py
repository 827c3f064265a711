"""Audio loading, downmixing, validation and resampling (numpy only)."""

from __future__ import annotations

import logging
import struct
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from sea.errors import SeaError

RESAMPLERS = ("soxr", "resampy")
# Plausible inputs: outside these a header is damaged or the file is not what it claims to be.
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1000, 768_000
MAX_CHANNELS = 64
_UNKNOWN_WAV_SIZES = (0, 0xFFFFFFFF)  # streaming writers leave the data size unset


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
    """soundfile's header info, after the shared decoding policy's checks (AudioError says why):
    a file must exist, hold audio frames, have a plausible rate and channel count, and a WAV
    header must not promise more data than the file holds."""
    path = Path(path)
    try:
        if not path.is_file():
            raise AudioError(f"no such file: {path}")
        if path.stat().st_size == 0:
            raise AudioError("empty file (0 bytes)")
    except OSError as exc:  # permission denied, symlink loop, ...
        raise AudioError(f"cannot read: {exc.strerror or exc}") from exc
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises RuntimeError/LibsndfileError/TypeError
        raise AudioError(f"not readable as audio: {exc}") from exc
    if not MIN_SAMPLE_RATE <= info.samplerate <= MAX_SAMPLE_RATE:
        raise AudioError(f"implausible sample rate {info.samplerate} Hz (accepted: "
                         f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz)")
    if not 1 <= info.channels <= MAX_CHANNELS:
        raise AudioError(f"implausible channel count {info.channels} (accepted: 1-{MAX_CHANNELS})")
    if info.frames <= 0:
        raise AudioError("file holds no audio frames")
    if info.format == "WAV" and (why := wav_truncation(path)):
        raise AudioError(why)
    return info


def wav_truncation(path: str | Path) -> str | None:
    """Why a RIFF/WAVE file is truncated (data chunk longer than the file), else None.

    libsndfile silently shortens such files to what is there, so check the header ourselves.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        size = Path(path).stat().st_size
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            cid, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"data":
                available = size - f.tell()
                if length not in _UNKNOWN_WAV_SIZES and length > available:
                    return f"truncated: data chunk declares {length} bytes, file holds {available}"
                return None
            f.seek(length + (length & 1), 1)


def check_complete(info: sf._SoundFileInfo, decoded: int) -> None:
    """Raise AudioError when fewer frames decoded than the header promised (a truncated
    FLAC/OGG/MP3/...). MPEG frame counts in headers are estimates: 1 % slack for MP3."""
    tolerance = info.frames // 100 if info.format == "MP3" else 0
    if decoded < info.frames - tolerance:
        raise AudioError(f"truncated: header promises {info.frames} frames, {decoded} decoded")


def load_audio(path: str | Path, dtype: str = "float64") -> tuple[np.ndarray, int]:
    """Read a whole file as mono; returns (samples, sample_rate).

    float64 by default because that is what openl3/edgel3 read (int16 / 32768).
    """
    info = read_info(path)
    try:
        audio, sr = sf.read(str(path), dtype=dtype, always_2d=False)
    except Exception as exc:
        raise AudioError(f"decoding failed: {exc}") from exc
    audio = to_mono(np.asarray(audio))
    check_complete(info, len(audio))
    check_finite(audio)
    return audio, int(sr)


def iter_audio_blocks(
    path: str | Path, block_frames: int, dtype: str = "float32"
) -> Iterator[np.ndarray]:
    """Stream a file as mono blocks of at most `block_frames` samples (bounded memory).

    Every reader (prepare, embed, the node) goes through this and `read_info`, so a damaged
    file is refused the same way everywhere; a truncation found only at the end raises
    AudioError after the blocks decoded so far."""
    info = read_info(path)
    decoded = 0
    try:
        with sf.SoundFile(str(path)) as f:
            while True:
                block = f.read(block_frames, dtype=dtype, always_2d=True)
                if len(block) == 0:
                    break
                mono = to_mono(block)
                check_finite(mono)
                decoded += len(mono)
                yield mono
    except AudioError:
        raise
    except Exception as exc:
        raise AudioError(f"decoding failed: {exc}") from exc
    check_complete(info, decoded)


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
