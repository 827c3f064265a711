"""Calibration and parity windows from a folder of recordings (no clip store needed)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import soundfile as sf

from deploy.representative import WINDOWS_PER_CLIP, folder_windows


def test_windows_from_recordings_skip_unreadable_files(tmp_path, caplog):
    rng = np.random.default_rng(0)
    for i in range(3):
        sf.write(tmp_path / f"clip{i}.wav", 0.1 * rng.standard_normal(16000 * 3), 16000)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "broken.wav").write_bytes(b"not audio")
    with caplog.at_level(logging.WARNING):
        ws = folder_windows(tmp_path, 8000, count=100, seed=1)
    assert ws.windows.shape == (3 * WINDOWS_PER_CLIP, 8000) and ws.windows.dtype == np.float32
    assert np.abs(ws.windows).max() > 0  # no silent stand-ins for the broken file
    assert ws.source["kind"] == "audio_folder"
    assert ws.source["files_used"] == ["clip0.wav", "clip1.wav", "clip2.wav"]
    assert "broken.wav" in caplog.text
    again = folder_windows(tmp_path, 8000, count=100, seed=1)
    assert np.array_equal(ws.windows, again.windows)  # seeded draw


def test_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="holds no audio files"):
        folder_windows(tmp_path, 8000, count=4)
