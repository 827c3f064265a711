"""What cannot be read is a logged skip with its reason, never silently left out; one decoding
policy for prepare, embed and sea-node (truncated files, implausible headers)."""

from __future__ import annotations

import errno
import json
import os
import struct

import numpy as np
import pytest
import soundfile as sf

from lost_support import STORE_RATE, sea, tone, write_wavs
from sea.files import find_audio_files, walk_files
from sea.manifest import read_manifest


@pytest.fixture
def messy(tmp_path):
    """Good files beside a dangling link, a link loop, a self-referencing link, a FIFO and a
    folder whose listing fails (root ignores permissions, so that failure is simulated)."""
    root = write_wavs(tmp_path / "rec", 2)
    (root / "gone.wav").symlink_to(root / "deleted.wav")
    (root / "loop").symlink_to(root)  # a directory link back to the top
    (root / "self.wav").symlink_to(root / "self.wav")
    os.mkfifo(root / "pipe.wav")
    write_wavs(root / "locked", 1)
    return root


@pytest.fixture
def locked_listing(monkeypatch):
    real = os.scandir

    def scandir(path="."):
        if os.path.basename(str(path)) == "locked":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


EXPECTED = {"gone.wav": "dangling symbolic link", "loop": "loop",
            "self.wav": "symbolic link loop", "pipe.wav": "not a regular file",
            "locked": "cannot read directory: Permission denied"}


def _check_problems(problems: dict[str, str]) -> None:
    for name, reason in EXPECTED.items():
        assert reason in problems[name], (name, problems)


def test_walk_reports_every_unreadable_entry(messy, locked_listing):
    files, problems = walk_files(messy)
    assert [p.name for p in files] == ["clip0.wav", "clip1.wav"]
    _check_problems({os.path.basename(p): r for p, r in problems})


def test_prepare_records_unreadable_entries_as_skips(messy, locked_listing, tmp_path, caplog):
    out = tmp_path / "store"
    assert sea("prepare", f"folder:{messy}", "--out", out, "--sample-rate", "16000",
               "--no-progress") == 0
    manifest = read_manifest(out)
    assert manifest["clips"] == 2
    _check_problems({os.path.basename(r["path"]): r["reason"] for r in manifest["skipped"]})
    assert "gone.wav" in caplog.text  # logged as it happens, not only in the manifest


def test_embed_and_node_report_unreadable_entries(messy, locked_listing):
    files, problems = find_audio_files([messy, messy / "missing.wav"])
    assert [p.name for p in files] == ["clip0.wav", "clip1.wav"]
    named = {os.path.basename(p): r for p, r in problems}
    _check_problems(named)
    assert named["missing.wav"] == "no such file or directory"


def _wav_header(rate: int, channels: int, frames: int = 4) -> bytes:
    data = b"\0\0" * channels * frames
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * 2, channels * 2, 16)
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<I", 16)
            + fmt + b"data" + struct.pack("<I", len(data)) + data)


def _truncated(folder, ext: str, **kw) -> str:
    path = folder / f"cut.{ext}"
    sf.write(path, tone(2.0, 440), STORE_RATE, **kw)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path.name


BAD = {
    "wav": lambda d: _truncated(d, "wav"),
    "flac": lambda d: _truncated(d, "flac"),
    "ogg": lambda d: _truncated(d, "ogg", subtype="VORBIS"),
    "mp3": lambda d: _truncated(d, "mp3", format="MP3", subtype="MPEG_LAYER_III"),
    "1hz": lambda d: (d / "slow.wav").write_bytes(_wav_header(1, 1)) and "slow.wav",
    "300ch": lambda d: (d / "wide.wav").write_bytes(_wav_header(16000, 300)) and "wide.wav",
}
REASON = {"wav": "truncated", "flac": "", "ogg": "", "mp3": "truncated",
          "1hz": "implausible sample rate 1 Hz", "300ch": "implausible channel count 300"}


@pytest.mark.parametrize("case", sorted(BAD))
def test_one_decoding_policy_for_prepare_embed_and_node(case, tmp_path, tiny_bundle, caplog):
    """Each damaged or implausible file is refused by all three readers, for one reason."""
    from deploy.node.cli import main as node_main

    folder = tmp_path / "in"
    folder.mkdir()
    name = BAD[case](folder)
    assert sea("prepare", f"folder:{folder}", "--out", tmp_path / "store", "--sample-rate",
               "16000", "--no-progress") == 0
    skipped = read_manifest(tmp_path / "store")["skipped"]
    assert [os.path.basename(r["path"]) for r in skipped] == [name]
    reason = skipped[0]["reason"]
    assert REASON[case] in reason and reason

    caplog.clear()
    assert sea("embed", folder / name, "--model", tiny_bundle.parent / "ckpt", "--output-dir",
               tmp_path / "emb") == 1
    assert reason in caplog.text and not list((tmp_path / "emb").glob("*.npz"))

    assert node_main(["run", "--bundle", str(tiny_bundle), "--input",
                      str(folder / name), "--out", str(tmp_path / "node.jsonl")]) == 1
    lines = [json.loads(x) for x in (tmp_path / "node.jsonl").read_text().splitlines()]
    assert lines[-1] == {"source": str(folder / name), "error": reason}


def test_plausible_edge_rates_still_load(tmp_path):
    from sea.audio import read_info

    for rate in (8000, 96000):
        sf.write(tmp_path / f"r{rate}.wav", np.zeros(rate // 10), rate)
        assert read_info(tmp_path / f"r{rate}.wav").samplerate == rate
