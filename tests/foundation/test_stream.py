"""Node streaming: ring-buffer windows and block resampling equal the whole-file functions."""

from __future__ import annotations

import numpy as np
import pytest

from sea.stream import StreamResampler, WindowStream
from sea.audio import resample
from sea.framing import frame_audio


def stream_windows(audio, win, hop, center, block):
    ws = WindowStream(win, hop, center)
    out = []
    for i in range(0, len(audio), block):
        out += list(ws.push(audio[i:i + block]))
    out += list(ws.finish())
    return out


@pytest.mark.parametrize("n", [0, 1, 399, 800, 801, 2345])
@pytest.mark.parametrize("hop,center", [(100, True), (400, False), (800, True), (37, False)])
@pytest.mark.parametrize("block", [1, 64, 1000])
def test_windows_equal_frame_audio(n, hop, center, block):
    audio = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    expected, _ = frame_audio(audio, 800, hop_seconds=hop / 800, center=center)
    got = stream_windows(audio, 800, hop, center, block)
    assert [i for i, _ in got] == list(range(len(expected)))
    np.testing.assert_array_equal(np.stack([w for _, w in got]), expected)


def test_bad_hop_rejected():
    with pytest.raises(ValueError):
        WindowStream(800, 801)


@pytest.mark.parametrize("sr_in", [8000, 16000, 22050, 44100])
def test_block_resampling_matches_whole_file(sr_in):
    audio = np.random.default_rng(0).standard_normal(sr_in * 2 + 77).astype(np.float32)
    rs = StreamResampler(sr_in, 8000, total_in=len(audio))
    parts = [rs.push(audio[i:i + 3001]) for i in range(0, len(audio), 3001)] + [rs.finish()]
    got = np.concatenate(parts)
    expected = resample(audio.astype(np.float64), sr_in, 8000)
    assert len(got) == len(expected)
    np.testing.assert_allclose(got, expected, atol=1e-5)
