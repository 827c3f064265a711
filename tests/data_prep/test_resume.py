"""SIGKILL `sea prepare` part-way, rerun it, and compare with an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from data_prep.prepare import prepare
from data_prep.settings.prepare import PrepareSettings
from sea.store import INDEX_FILE, ClipStore

N_FILES = 60


def _prepare_cmd(src, out, workers):
    return [sys.executable, "-m", "sea.cli", "prepare", f"folder:{src}", "synth:4:3",
            "--out", str(out), "--sample-rate", "48000", "--workers", str(workers),
            "--synth-duration", "2", "--no-progress"]


def _index_lines(out) -> int:
    try:
        return (out / INDEX_FILE).read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:  # the process ended while we looked
            pass
    return found


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path, write_audio):
    src = tmp_path / "rec"
    for i in range(N_FILES):
        write_audio(src / f"{i:03d}.wav", seconds=2.0, sr=44100, seed=i)
    (src / "broken.wav").write_bytes(b"not a wav")
    killed, reference = tmp_path / "killed", tmp_path / "reference"

    proc = subprocess.Popen(_prepare_cmd(src, killed, 2), stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while _index_lines(killed) < 10 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    assert proc.poll() is None, f"sea prepare ended before the kill ({proc.returncode})"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    stored_at_kill = _index_lines(killed)
    assert 10 <= stored_at_kill < N_FILES + 4, "the kill must land part-way"
    assert json.loads((killed / "manifest.json").read_text())["status"] == "writing"

    resumed = subprocess.run(_prepare_cmd(src, killed, 2), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{stored_at_kill} already stored" in resumed.stderr
    # Orphaned decoder processes must not outlive the killed parent.
    assert _processes_mentioning(str(killed)) == []
    prepare(PrepareSettings(sources=(f"folder:{src}", "synth:4:3"), out=reference,
                            sample_rate=48000, workers=1, synth_duration=2.0, progress=False))

    a, b = ClipStore(killed), ClipStore(reference)
    ids = [r.clip_id for r in a.records]
    assert len(ids) == len(set(ids)) == N_FILES + 4  # every clip exactly once
    assert ids == [r.clip_id for r in b.records]  # same order too
    for (rec_a, audio_a), (rec_b, audio_b) in zip(a.iter_clips(), b.iter_clips()):
        assert rec_a == rec_b
        np.testing.assert_array_equal(audio_a, audio_b)
    assert a.content_sha256() == b.content_sha256() == a.manifest["content_sha256"]
    assert a.verify() == []
    assert a.manifest["status"] == "complete" and a.manifest["clips"] == N_FILES + 4
    assert [s["path"].rsplit("/", 1)[-1] for s in a.manifest["skipped"]] == ["broken.wav"]
    assert len(a.manifest["runs"]) == 2
