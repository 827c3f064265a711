"""`sea prepare --ray`: Ray-written store parts joined by one index give the same store."""

from __future__ import annotations

import numpy as np

from data_prep import ray_prepare
from sea.cli import main
from sea.store import PARTS_DIR, ClipStore


def test_prepare_on_ray_gives_the_same_store_and_digest(ray_local, tmp_path, write_audio,
                                                        monkeypatch):
    src = tmp_path / "rec"
    for i in range(10):
        write_audio(src / f"{i:03d}.wav", seconds=0.6, sr=22050, seed=i)
    (src / "broken.wav").write_bytes(b"not a wav")
    monkeypatch.setattr(ray_prepare, "UNIT_CLIPS", 3)  # several parts from a few clips
    reference, parted = tmp_path / "reference", tmp_path / "parted"
    common = ["--sample-rate", "16000", "--no-progress"]
    assert main(["prepare", f"folder:{src}", "--out", str(reference), *common]) == 0
    assert main(["prepare", f"folder:{src}", "--out", str(parted), *common,
                 "--ray", "local", "--ray-workers", "2"]) == 0
    assert len(list((parted / PARTS_DIR).iterdir())) == 4  # 11 inputs in units of 3
    a, b = ClipStore(reference), ClipStore(parted)
    assert b.manifest["content_sha256"] == a.manifest["content_sha256"]
    assert b.content_sha256() == a.content_sha256()  # recomputed from the parts' audio
    assert b.records == a.records  # same clips, same order: same window rows downstream
    assert b.verify() == []
    for pos in range(len(a)):
        assert np.array_equal(b.audio_at(pos), a.audio_at(pos))
        assert np.array_equal(b.loudness_at(pos), a.loudness_at(pos))
    assert [s["path"] for s in b.manifest["skipped"]] == [s["path"] for s in a.manifest["skipped"]]
    # Re-running resumes: nothing left to do, every clip still exactly once.
    assert main(["prepare", f"folder:{src}", "--out", str(parted), *common, "--ray"]) == 0
    again = ClipStore(parted)
    assert [r.clip_id for r in again.records] == [r.clip_id for r in a.records]
