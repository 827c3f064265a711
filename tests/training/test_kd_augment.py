"""Exact augmentations: shifted windows get their own teacher targets; gain is exact only
where the kapre dB rule makes it so, and a window where it is not is left alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sea.configs import SEA_FRONTEND
from sea.framing import hop_samples
from sea.reducer import TARGETS_FILE
from training.checkpoint import build_model
from training.distill import Distiller
from training.kd.augment import exact_gains, gain_exponents
from training.settings.distill import DistillSettings


def _distiller(fine_pipeline, out, **settings) -> Distiller:
    store, red, _ = fine_pipeline
    return Distiller(DistillSettings(
        store=store, targets=red, out=out, student="custom", filters=(4, 8, 8, 16), threads=1,
        batch_size=16, val_folds=("4",), **settings))


def test_shifted_windows_line_up_with_the_teachers_neighbouring_windows(fine_pipeline,
                                                                        tiny_teacher, tmp_path):
    d = _distiller(fine_pipeline, tmp_path / "s", augment="shift", base_hop=1.0)
    assert d.stride == 4 and bool((d.index.window_in_clip[d.train_rows] % 4 == 0).all())
    base = np.sort(d.train_rows)
    shifted = np.sort(d._epoch_rows(np.random.default_rng(1)))
    k = shifted - base
    assert k.min() >= 0 and k.max() <= 3 and len(np.unique(k)) > 1
    assert bool((d.index.clip_pos[shifted] == d.index.clip_pos[base]).all())
    # The shifted input is the base input moved by k hops of audio ...
    hop = hop_samples(8000, 0.25)
    for row, step in zip(base[:20], k[:20]):
        ahead = d.cache.windows(np.array([row]))[0]
        moved = d.cache.windows(np.array([row + step]))[0]
        np.testing.assert_array_equal(moved[:len(moved) - step * hop], ahead[step * hop:])
    # ... and its target is the teacher's embedding of exactly that input.
    teacher = build_model(str(tiny_teacher)).eval()
    with torch.no_grad():
        expected = teacher(torch.from_numpy(d.cache.windows(shifted))).numpy()
    got = np.load(fine_pipeline[1] / TARGETS_FILE)[shifted]
    np.testing.assert_allclose(got, expected, atol=1e-4 * np.abs(expected).max(), rtol=0)


def test_shift_needs_a_finer_teacher_store(fine_pipeline, tmp_path):
    with pytest.raises(ValueError, match="finer hop"):
        _distiller(fine_pipeline, tmp_path / "s", augment="shift")
    with pytest.raises(ValueError, match="whole multiple"):
        _distiller(fine_pipeline, tmp_path / "s", augment="shift", base_hop=0.6)


def _tone(amplitude: float, silent_half: bool) -> np.ndarray:
    t = np.arange(8000) / 8000
    x = amplitude * np.sin(2 * np.pi * 440 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    if silent_half:
        x[4000:] = 0.0  # digital silence: its bins sit on the amin floor
    return x.astype(np.float32)


def test_gain_is_exact_where_the_db_rule_says_and_only_there(tiny_teacher):
    teacher = build_model(str(tiny_teacher)).eval()
    assert teacher.cfg.frontend == SEA_FRONTEND
    loud = torch.from_numpy(np.stack([_tone(0.3, False), _tone(0.3, True), _tone(0.01, True)]))
    quiet = torch.from_numpy(_tone(1e-5, True)[None])  # peak far below amin * 10^8
    exponents = gain_exponents(12.0, 8 * len(loud), np.random.default_rng(0)).reshape(8, -1)
    gains = torch.stack([exact_gains(teacher.frontend, loud, k) for k in exponents])
    assert set(gains.flatten().tolist()) == {0.25, 0.5, 1.0, 2.0, 4.0}  # powers of two only
    assert exact_gains(teacher.frontend, quiet, np.array([2])).tolist() == [1.0]
    with torch.no_grad():
        before = teacher(loud)
        scale = float(before.abs().max())
        # The error model: a power-of-two gain scales every float32 intermediate exactly;
        # only log10 rounds (~1e-6 dB at 80 dB) and the random network's gain from dB image
        # to embedding is O(1), so 1e-4 of the embedding scale is ample.
        for row in gains:
            torch.testing.assert_close(teacher(loud * row[:, None]), before,
                                       atol=1e-4 * scale, rtol=0)
        # Verified, not assumed: where the rule does not hold, the teacher really changes.
        # (a) the amin floor of digital silence in a quiet window, under a gain of 4;
        q_before, q_after = teacher(quiet), teacher(quiet * 4.0)
        # (b) a gain that is not a power of two: rounding the scaled audio to float32 is not
        # a scaling, and it moves the pure tone's faint bins (those the 80 dB range keeps).
        # With the float64 spectrum (rfft64) this is ~1e-3 of the scale (set by IEEE rounding
        # of the input, so alike on every CPU); float32 DFT paths move it ~100x more.
        off = teacher(loud * 0.99)
    assert float((q_after - q_before).abs().max()) > 100 * 1e-4 * float(q_before.abs().max())
    assert float((off - before).abs().max()) > 3 * 1e-4 * scale


def test_gain_needs_the_teachers_frontend(fine_pipeline, tmp_path):
    store, red, _ = fine_pipeline
    with pytest.raises(ValueError, match="teacher's frontend"):
        Distiller(DistillSettings(
            store=store, targets=red, out=tmp_path / "s", student="custom", filters=(4, 8, 8, 16),
            n_mels=32, threads=1, val_folds=("4",), augment="shift+gain", base_hop=0.5))
