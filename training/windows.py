"""Windows of a clip store at a model's sample rate, row for row with `ClipStore.window_index`.

A clip is resampled whole (as `Embedder.embed` does for a file) and then cut with the store's
window rules at the model's rate, so the teacher and the student see the same moments of the
same clip whatever rate each runs at. Window w of a clip starts at w * hop (minus half a window
when centred); samples outside the clip are zeros.
"""

from __future__ import annotations

import numpy as np

from sea.audio import resample
from sea.framing import hop_samples
from sea.store import ClipStore, WindowIndex


def padded_clip(audio: np.ndarray, sr_in: int, sr_out: int, index: WindowIndex,
                count: int, resampler: str = "soxr") -> np.ndarray:
    """The clip at `sr_out`, zero-padded so its `count` windows are plain slices.

    Window w is `out[w * hop : w * hop + win]` with hop and win at `sr_out`.
    """
    win = int(index.window_seconds * sr_out)
    hop = hop_samples(sr_out, index.hop_seconds)
    pad = win // 2 if index.center else 0
    x = resample(np.asarray(audio, dtype=np.float64), sr_in, sr_out, resampler)
    out = np.zeros((count - 1) * hop + win, dtype=np.float32)
    n = min(len(x), len(out) - pad)
    out[pad: pad + n] = x[:n]
    return out


def clip_windows(padded: np.ndarray, sr: int, index: WindowIndex) -> np.ndarray:
    """(count, win) strided view of a `padded_clip` result."""
    win = int(index.window_seconds * sr)
    hop = hop_samples(sr, index.hop_seconds)
    count = 1 + (len(padded) - win) // hop
    return np.lib.stride_tricks.as_strided(padded, shape=(count, win),
                                           strides=(padded.strides[0] * hop, padded.strides[0]),
                                           writeable=False)


def clip_row_ranges(index: WindowIndex, num_clips: int) -> np.ndarray:
    """(num_clips + 1,) row offsets: clip p owns rows [r[p], r[p + 1])."""
    counts = np.bincount(index.clip_pos, minlength=num_clips)
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def read_rows_at_rate(store: ClipStore, index: WindowIndex, begin: int, end: int, sr: int,
                      resampler: str = "soxr") -> np.ndarray:
    """Windows of rows [begin, end) at rate `sr` as one (end - begin, win) float32 array."""
    offsets = clip_row_ranges(index, len(store))
    first = int(index.clip_pos[begin])
    last = int(index.clip_pos[end - 1])
    parts = []
    for pos in range(first, last + 1):
        lo, hi = offsets[pos], offsets[pos + 1]
        padded = padded_clip(store.audio_at(pos), store.sample_rate, sr, index, int(hi - lo),
                             resampler)
        windows = clip_windows(padded, sr, index)
        parts.append(windows[max(begin, lo) - lo: min(end, hi) - lo])
    return np.concatenate(parts).astype(np.float32, copy=False)
