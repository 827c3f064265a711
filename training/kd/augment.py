"""Target-preserving augmentations: each changes the student's input only in ways whose
teacher target is known exactly, so no target is guessed.

- shift: the teacher store holds windows at a fine hop h; training steps on a coarser base
  grid (every `stride`-th window, base hop = stride * h). A base window shifted by k fine hops
  (0 <= k < stride, inside its clip) IS the store's window k rows later, so its exact target is
  that row's teacher embedding. Each epoch draws new k: the same number of steps as without
  shift, over all the fine windows.
- gain: the kapre dB rule subtracts each window's maximum, so scaling a window's audio by g
  shifts every dB value by 10*log10(g) and the subtraction cancels it. In exact arithmetic,
  that is. Verified (tests/training/test_kd_augment.py): the 80-dB range reaches magnitudes
  1e-8 below the peak, and rounding does not scale with an arbitrary g: scaling float32 audio
  by 0.99 rounds every sample anew, which moves a pure tone's faint bins (by dB with a float32
  STFT, ~1e-3 of the embedding scale with the default float64 one). A power of two scales
  every floating-point intermediate exactly, so
  gains are drawn from 2^k (k = -K..K, 6.02 dB apart) and the image changes only by the
  rounding of the logarithm (~1e-5 dB). The amin floor (1e-10) breaks exactness when it lands
  above the -dynamic_range clip, i.e. when the window's peak magnitude times g is below
  amin * 10^(dynamic_range / 10); such windows keep gain 1. The rule holds for the teacher's
  targets only if the teacher's frontend is the student's (checked by the caller).
"""

from __future__ import annotations

import numpy as np
import torch

from sea.configs import FrontendConfig
from sea.store import WindowIndex
from training.frontend import TorchLogMel
from training.windows import clip_row_ranges


def base_rows(index: WindowIndex, rows: np.ndarray, stride: int) -> np.ndarray:
    """The rows of `rows` on the base grid (every `stride`-th window of each clip)."""
    return rows[index.window_in_clip[rows] % stride == 0]


def windows_left_in_clip(index: WindowIndex, num_clips: int) -> np.ndarray:
    """For each row, how many rows of the same clip follow it (0 for a clip's last window)."""
    ends = clip_row_ranges(index, num_clips)[1:][index.clip_pos]
    return ends - np.arange(len(index)) - 1


def shifted_rows(rows: np.ndarray, left: np.ndarray, stride: int,
                 rng: np.random.Generator) -> np.ndarray:
    """Each base row moved by k ~ U{0..stride-1} fine hops, never past its clip's last window."""
    k = rng.integers(0, stride, size=len(rows))
    return rows + np.minimum(k, left[rows])


def gain_is_exact(cfg: FrontendConfig) -> bool:
    """Gain is target-preserving only for frontends that reference dB to the window maximum."""
    return cfg.style == "kapre014"


def gain_exponents(max_db: float, num_rows: int, rng: np.random.Generator) -> np.ndarray:
    """One k per row, uniform in -K..K with K = round(max_db / 6.02): the gain 2^k of that row
    this epoch (drawn per row, not per batch, so DDP ranks and one process agree)."""
    steps = round(max_db / (20 * np.log10(2.0)))
    return rng.integers(-steps, steps + 1, size=num_rows)


def exact_gains(frontend: TorchLogMel, windows: torch.Tensor, exponents: np.ndarray
                ) -> torch.Tensor:
    """(B,) gains 2^exponents, set to 1 where the amin floor could bind."""
    cfg = frontend.cfg
    gains = torch.pow(2.0, torch.from_numpy(np.asarray(exponents)).float()).to(windows.device)
    with torch.no_grad():
        peak = frontend.magnitude(windows.float()).amax(dim=(1, 2)).float()
    floor = cfg.amin * 10.0 ** (cfg.dynamic_range / 10.0)
    safe = torch.minimum(peak, peak * gains) >= floor
    return torch.where(safe, gains, torch.ones_like(gains))
