import numpy as np
import pytest

from sea.framing import frame_audio, num_windows, pad_for_framing


@pytest.mark.parametrize("sr,n,expected", [
    (8000, 16000, 16), (8000, 20000, 21), (8000, 12000, 11), (8000, 5999, 4),  # EdgeL3 refs
    (48000, 96000, 16), (48000, 120000, 21), (48000, 35998, 4),  # OpenL3 refs
])
def test_window_counts_match_reference_framing(sr, n, expected):
    assert num_windows(n, sr, 0.1, center=True) == expected
    windows, timestamps = frame_audio(np.zeros(n), sr, 0.1, center=True)
    assert windows.shape == (expected, sr)
    np.testing.assert_allclose(timestamps, np.arange(expected) * 0.1)


def test_center_pads_half_window_and_covers_every_sample():
    sr = 100
    audio = np.arange(1, 251, dtype=np.float64)
    padded = pad_for_framing(audio, sr, 0.1, center=True)
    assert np.all(padded[:50] == 0) and padded[50] == 1
    windows, _ = frame_audio(audio, sr, 0.1, center=True)
    assert windows[-1].max() == 250  # the last sample is inside the last window
    assert np.all(windows[1][:40] == 0) and windows[1][40] == 1


def test_short_audio_gives_one_zero_padded_window():
    windows, ts = frame_audio(np.ones(10), 100, 0.5, center=False)
    assert windows.shape == (1, 100) and windows[0, :10].sum() == 10 and windows[0, 10:].sum() == 0


def test_no_center_starts_at_zero():
    audio = np.arange(300, dtype=np.float64)
    windows, ts = frame_audio(audio, 100, 1.0, center=False)
    assert windows.shape == (3, 100)
    assert windows[0, 0] == 0 and windows[2, -1] == 299


def test_hop_shorter_than_a_sample_is_rejected():
    with pytest.raises(ValueError, match="shorter than one sample"):
        frame_audio(np.zeros(100), 100, 0.001)
