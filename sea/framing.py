"""Cutting audio into fixed windows exactly as openl3 and edgel3 do.

Rules (PROVENANCE.md): with `center`, prepend half a window of zeros; then pad the end so the
last samples are covered: up to one window if shorter, else up to a whole number of hops.
Window i starts at i * hop; its timestamp is i * hop_seconds.
"""

from __future__ import annotations

import math

import numpy as np

from sea.errors import InvalidArgument


def hop_samples(sr: int, hop_seconds: float) -> int:
    """The hop in whole samples at `sr`; a hop below one sample is refused."""
    hop = int(hop_seconds * sr)
    if hop <= 0:
        raise InvalidArgument(f"hop_seconds {hop_seconds} is shorter than one sample at "
                               f"{sr} Hz (the shortest hop there is {1 / sr:.3g} s)")
    return hop


def num_windows(n_samples: int, sr: int, hop_seconds: float, center: bool = True,
                window_seconds: float = 1.0) -> int:
    """How many windows `frame_audio` returns for `n_samples` input samples."""
    win = int(window_seconds * sr)
    hop = hop_samples(sr, hop_seconds)
    length = n_samples + (win // 2 if center else 0)
    return 1 + math.ceil(max(length - win, 0) / hop)


def pad_for_framing(audio: np.ndarray, sr: int, hop_seconds: float, center: bool = True,
                    window_seconds: float = 1.0) -> np.ndarray:
    """The padded signal that windows are sliced from (openl3's `audio_padded`)."""
    win = int(window_seconds * sr)
    hop = hop_samples(sr, hop_seconds)
    if center:
        audio = np.concatenate([np.zeros(win // 2, dtype=audio.dtype), audio])
    length = len(audio)
    if length < win:
        pad = win - length
    else:
        pad = math.ceil((length - win) / hop) * hop - (length - win)
    if pad:
        audio = np.concatenate([audio, np.zeros(pad, dtype=audio.dtype)])
    return audio


def frame_audio(audio: np.ndarray, sr: int, hop_seconds: float = 0.1, center: bool = True,
                window_seconds: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Return (windows (T, window_samples) as a strided view, timestamps (T,) in seconds)."""
    win = int(window_seconds * sr)
    hop = hop_samples(sr, hop_seconds)
    padded = pad_for_framing(audio, sr, hop_seconds, center, window_seconds)
    n = 1 + (len(padded) - win) // hop
    windows = np.lib.stride_tricks.as_strided(
        padded, shape=(n, win), strides=(padded.strides[0] * hop, padded.strides[0]),
        writeable=False,
    )
    timestamps = np.arange(n) * hop_seconds
    return windows, timestamps


def frame_resampled(audio: np.ndarray, sr: int, target_sr: int, hop_seconds: float = 0.1,
                    center: bool = True, window_seconds: float = 1.0,
                    resampler: str = "soxr") -> tuple[np.ndarray, np.ndarray]:
    """Resample to a model's rate (float64, as openl3/edgel3 do), then `frame_audio`."""
    from sea.audio import resample

    audio = resample(np.asarray(audio, dtype=np.float64), sr, target_sr, resampler)
    return frame_audio(audio, target_sr, hop_seconds, center, window_seconds)
