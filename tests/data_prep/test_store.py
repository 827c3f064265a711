"""The clip store contract: round trip, windows as sea.framing cuts them, loudness, recovery."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from sea.framing import frame_audio
from sea.loudness import LoudnessMeter, frame_loudness
from sea.errors import SeaError
from sea.store import INDEX_FILE, ClipStore, Event, StoreBusy, StoreError, StoreWriter

SR = 8000


def _clips(n: int = 5, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f"set/clip{i}": (0.1 * rng.standard_normal(int(SR * (0.3 + 0.7 * i)))).astype(np.float32)
            for i in range(n)}


def _write(path, clips, shard_bytes=40_000, order=None):
    with StoreWriter(path, sample_rate=SR, shard_bytes=shard_bytes) as w:
        for i, clip_id in enumerate(order or clips):
            w.add(clip_id, np.array_split(clips[clip_id], 3), source=f"/in/{i}.wav",
                  dataset="set", labels=("a", "b") if i % 2 else (), fold=str(i % 2 + 1),
                  sensor_id="s1", time="2020-01-01T00:00:00",
                  events=(Event("a", 0.1, 0.2, 3.0),))
        w.skip("/in/bad.wav", "corrupt")


def test_round_trip_shards_and_metadata(tmp_path):
    clips = _clips()
    _write(tmp_path, clips)
    store = ClipStore(tmp_path)
    assert len(store) == 5 and store.sample_rate == SR
    assert len(list((tmp_path / "shards").iterdir())) > 1  # small shard_bytes forces rollover
    for record, audio in store.iter_clips():
        np.testing.assert_array_equal(audio, clips[record.clip_id])
        assert audio.dtype == np.float32 and not audio.flags.writeable
        assert record.num_samples == len(audio)
    rec = store.record("set/clip1")
    assert rec.labels == ("a", "b") and rec.fold == "2" and rec.sensor_id == "s1"
    assert rec.events == (Event("a", 0.1, 0.2, 3.0),)
    assert store.labels() == ["a", "b"]
    m = store.manifest
    assert m["clips"] == 5 and m["status"] == "complete"
    assert m["skipped"] == [{"path": "/in/bad.wav", "reason": "corrupt"}]
    assert m["content_sha256"] == store.content_sha256()
    assert store.verify() == []
    with pytest.raises(KeyError):
        store.audio("nope")


@pytest.mark.parametrize("center", [False, True])
@pytest.mark.parametrize("window,hop", [(1.0, 1.0), (1.0, 0.1), (0.5, 0.25)])
def test_windows_follow_sea_framing(tmp_path, center, window, hop):
    clips = _clips()
    _write(tmp_path, clips)
    store = ClipStore(tmp_path)
    expected = np.concatenate([frame_audio(a, SR, hop, center, window)[0] for a in clips.values()])
    index = store.window_index(window, hop, center)
    assert len(index) == len(expected)
    got = np.concatenate([b for _, b in store.iter_windows(window, hop, center, batch_size=7)])
    np.testing.assert_array_equal(got, expected)
    first = frame_audio(clips["set/clip2"], SR, hop, center, window)[1]
    np.testing.assert_allclose(index.timestamps[index.clip_pos == 2], first)
    rows = np.array([len(index) - 1, 0, 3])
    np.testing.assert_array_equal(store.read_windows(index, rows), expected[rows])


def test_a_weighted_levels():
    t = np.arange(SR) / SR
    # Full-scale 1 kHz sine: mean square 0.5 -> -3.01 dB; A(100 Hz) = -19.1 dB.
    np.testing.assert_allclose(frame_loudness(np.sin(2 * np.pi * 1000 * t), SR), -3.01, atol=0.05)
    np.testing.assert_allclose(frame_loudness(np.sin(2 * np.pi * 100 * t), SR), -22.1, atol=0.1)
    assert frame_loudness(np.zeros(SR), SR).max() == -120.0
    x = np.random.default_rng(1).standard_normal(SR + 123)
    meter = LoudnessMeter(SR)
    for block in np.array_split(x, 7):
        meter.update(block)
    streamed = meter.finish()
    assert len(streamed) == 11  # ten full 0.1 s frames + a short last one
    np.testing.assert_allclose(streamed, frame_loudness(x, SR), atol=1e-4)


def test_window_loudness_tracks_level(tmp_path):
    quiet_loud = np.concatenate([0.001 * np.ones(SR), 0.5 * np.sin(np.arange(SR) * 0.8)])
    with StoreWriter(tmp_path, sample_rate=SR) as w:
        w.add("c", quiet_loud.astype(np.float32), source="x", dataset="d")
    store = ClipStore(tmp_path)
    assert len(store.loudness("c")) == 20
    levels = store.window_loudness(store.window_index(1.0, 1.0))
    assert levels.shape == (2,) and levels[1] - levels[0] > 40


def test_exception_inside_writer_marks_run_interrupted(tmp_path):
    with pytest.raises(RuntimeError):
        with StoreWriter(tmp_path, sample_rate=SR) as w:
            w.add("a", np.ones(10, np.float32), source="x", dataset="d")
            raise RuntimeError("boom")
    store = ClipStore(tmp_path)
    assert store.manifest["status"] == "interrupted" and len(store) == 1


def test_digest_depends_on_content_not_order(tmp_path):
    clips = _clips()
    _write(tmp_path / "a", clips)
    _write(tmp_path / "b", clips, order=list(reversed(clips)))
    a, b = ClipStore(tmp_path / "a"), ClipStore(tmp_path / "b")
    assert [r.clip_id for r in a.records] != [r.clip_id for r in b.records]
    assert a.content_sha256() == b.content_sha256()
    clips["set/clip0"] = clips["set/clip0"] * 0.5
    _write(tmp_path / "c", clips)
    assert ClipStore(tmp_path / "c").content_sha256() != a.content_sha256()


def test_rejected_clips_leave_store_intact(tmp_path):
    with StoreWriter(tmp_path, sample_rate=SR) as w:
        w.add("ok", np.ones(100, np.float32), source="x", dataset="d")
        bad = np.ones(100, np.float32)
        bad[50] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            w.add("nan", [np.ones(300, np.float32), bad], source="x", dataset="d")
        with pytest.raises(ValueError, match="no audio"):
            w.add("empty", np.zeros(0, np.float32), source="x", dataset="d")
        with pytest.raises(ValueError, match="already"):
            w.add("ok", np.ones(100, np.float32), source="x", dataset="d")
        w.add("ok2", 2 * np.ones(10, np.float32), source="x", dataset="d")
    store = ClipStore(tmp_path)
    assert [r.clip_id for r in store.records] == ["ok", "ok2"]
    np.testing.assert_array_equal(store.audio("ok2"), 2 * np.ones(10))
    assert (tmp_path / "shards" / "audio-00000.f32").stat().st_size == 110 * 4


def test_reopen_repairs_torn_writes_and_resumes(tmp_path):
    clips = _clips(3)
    w = StoreWriter(tmp_path, sample_rate=SR)
    for clip_id in list(clips)[:2]:
        w.add(clip_id, clips[clip_id], source="x", dataset="d")
    # Simulate a kill mid-clip: orphan audio bytes and a torn index line, no close().
    w._audio_f.write(np.ones(777, np.float32).data)
    w._audio_f.flush()
    os.write(w._index_fd, b'{"clip_id": "set/clip2", "sour')
    w._release_lock()
    w = StoreWriter(tmp_path, sample_rate=SR)
    assert "set/clip1" in w and "set/clip2" not in w
    w.add("set/clip2", clips["set/clip2"], source="x", dataset="d")
    w.close()
    store = ClipStore(tmp_path)
    assert [r.clip_id for r in store.records] == list(clips)
    for clip_id, audio in clips.items():
        np.testing.assert_array_equal(store.audio(clip_id), audio)
    lines = (tmp_path / INDEX_FILE).read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line) for line in lines)
    assert store.verify() == []
    runs = store.manifest["runs"]
    assert len(runs) == 2 and runs[-1]["added"] == 1 and runs[-1]["finished"]


def test_writer_lock_and_config_checks(tmp_path):
    w = StoreWriter(tmp_path, sample_rate=SR)
    with pytest.raises(StoreBusy):
        StoreWriter(tmp_path, sample_rate=SR)
    other = subprocess.run([sys.executable, "-c", "import sys; from sea.store import StoreWriter;"
                            f"StoreWriter({str(tmp_path)!r}, sample_rate={SR})"],
                           capture_output=True, text=True)
    assert "OutputBusy" in other.stderr and "another process" in other.stderr
    w.close()
    with pytest.raises(StoreError, match="sample_rate"):
        StoreWriter(tmp_path, sample_rate=16000)
    StoreWriter(tmp_path, sample_rate=SR).close()  # the failed open released the lock
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "recording.wav").write_bytes(b"x")
    with pytest.raises(SeaError, match="not a sea artifact"):
        StoreWriter(tmp_path / "other", sample_rate=SR)
    assert sorted(p.name for p in (tmp_path / "other").iterdir()) == ["recording.wav"]
