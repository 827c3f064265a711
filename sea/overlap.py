"""Log-mel images of a stream of overlapping windows, computing each STFT frame once.

At the node's hops (0.1-0.5 s) consecutive 1-s windows share most of their samples, and an
STFT frame that lies wholly inside both windows (no zero padding in either) is the same
numbers in both: its dB row is taken from the previous window instead of recomputed.
Frames that touch a window's zero padding, or any frame after a gap in the stream, are
computed afresh, so the images equal LogMelFrontend's (to float32 round-off of the matmul).
"""

from __future__ import annotations

import numpy as np

from sea.frontend import LogMelFrontend


class OverlapFrontend:
    """`frontend` for windows `hop_samples` apart: call with (window, index) in stream order."""

    def __init__(self, frontend: LogMelFrontend, hop_samples: int):
        self.frontend = frontend
        cfg = frontend.cfg
        starts = np.arange(cfg.n_frames) * cfg.hop_length - cfg.padding[0]  # in window samples
        inside = (starts >= 0) & (starts + cfg.n_fft <= cfg.window_samples)
        # frame k of the next window is frame k + shift of this one (same samples)
        self.shift = hop_samples // cfg.hop_length if hop_samples % cfg.hop_length == 0 else 0
        later = np.arange(cfg.n_frames) + self.shift
        later_inside = np.zeros(cfg.n_frames, bool)
        later_inside[later < cfg.n_frames] = inside[later[later < cfg.n_frames]]
        self.reuse = np.flatnonzero(inside & later_inside) if self.shift else np.zeros(0, int)
        self.fresh = np.setdiff1d(np.arange(cfg.n_frames), self.reuse)
        self._all = frontend.kernel()
        self._fresh = frontend.kernel(self.fresh)
        # frame dB rows of the last window and of the one being built (swapped each call)
        self._rows = np.empty((cfg.n_frames, cfg.n_bins), frontend.dtype)
        self._next = np.empty_like(self._rows)
        self._last_index: int | None = None

    def __call__(self, window: np.ndarray, index: int) -> np.ndarray:
        """(1, n_bins, n_frames) dB image of `window`, the stream's window number `index`."""
        rows = self._next
        if self._last_index == index - 1 and len(self.reuse):
            rows[self.reuse] = self._rows[self.reuse + self.shift]
            rows[self.fresh] = self._fresh(window)
        else:
            rows[...] = self._all(window)
        self._rows, self._next, self._last_index = rows, self._rows, index
        return self.frontend.image(rows[None]).astype(np.float32, copy=False)
