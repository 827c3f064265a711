"""sea-node never writes onto what it reads nor through a link; locks and --overwrite only ever
touch what sea wrote (issue 19, parts 2 and 3). One mechanism: `sea.safe_write` + `sea.output`."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lost_support import sea, write_wavs
from sea.manifest import read_manifest, sha256_file
from sea.safe_write import OutputError, atomic_output

VICTIM_TEXT = "a file of the user's that sea must never touch\n"


def node(bundle: Path, inputs, out, *extra) -> int:
    from deploy.node.cli import main

    return main(["run", "--bundle", str(bundle), "--input", *map(str, inputs), "--out",
                 str(out), *extra])


def victim(path: Path) -> Path:
    path.write_text(VICTIM_TEXT)
    return path


def strict_json(line: str) -> dict:
    """json.loads that refuses the bare NaN/Infinity tokens Python would otherwise accept."""
    def refuse(token: str):
        raise ValueError(f"not JSON: {token}")
    return json.loads(line, parse_constant=refuse)


# -- part 2: sea-node's output -----------------------------------------------------------------

@pytest.mark.parametrize("case", ["out-is-input", "out-inside-input-dir", "out-inside-bundle",
                                  "link-to-input"])
def test_node_refuses_an_output_onto_what_it_reads(tiny_bundle, tmp_path, caplog, case):
    wavs = write_wavs(tmp_path / "wavs", 1)
    wav = wavs / "clip0.wav"
    link = tmp_path / "link.jsonl"
    link.symlink_to(wav)
    inputs, out = {"out-is-input": ([wav], wav),
                   "out-inside-input-dir": ([wavs], wavs / "x.wav"),
                   "out-inside-bundle": ([wav], tiny_bundle / "x.jsonl"),
                   "link-to-input": ([wav], link)}[case]
    before = {p: sha256_file(p) for p in [*wavs.iterdir(), *tiny_bundle.iterdir()]}
    assert node(tiny_bundle, inputs, out) == 2
    assert "overlaps the input" in caplog.text
    assert {p: sha256_file(p) for p in [*wavs.iterdir(), *tiny_bundle.iterdir()]} == before
    assert not (tiny_bundle / "x.jsonl").exists() and link.is_symlink()


@pytest.mark.parametrize("kind", ["device", "fifo", "directory", "link-to-fifo"])
def test_node_refuses_an_output_that_is_not_a_regular_file(tiny_bundle, tmp_path, caplog, kind):
    wav = write_wavs(tmp_path / "wavs", 1) / "clip0.wav"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "link").symlink_to(fifo)
    (tmp_path / "dir").mkdir()
    out = {"device": Path(os.devnull), "fifo": fifo, "directory": tmp_path / "dir",
           "link-to-fifo": tmp_path / "link"}[kind]
    assert node(tiny_bundle, [wav], out) == 2  # a FIFO is refused, not opened (no hang)
    assert "not a regular file" in caplog.text
    assert Path(os.devnull).is_char_device() and fifo.is_fifo() and (tmp_path / "dir").is_dir()
    assert not any((tmp_path / "dir").iterdir())


def test_node_writes_stdout_for_dash(tiny_bundle, tmp_path, capsys):
    wav = write_wavs(tmp_path / "wavs", 1) / "clip0.wav"
    assert node(tiny_bundle, [wav], "-") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all("embedding" in strict_json(line) for line in lines)


def test_node_never_writes_through_a_link_at_its_temporary_name(tiny_bundle, tmp_path,
                                                                monkeypatch):
    """A link planted where the temporary file would be created (the old fixed OUT.partial, and
    the first name the random sequence gives) is left alone: the file is created exclusively."""
    wav = write_wavs(tmp_path / "wavs", 1) / "clip0.wav"
    target = victim(tmp_path / "victim.txt")
    out = tmp_path / "out.jsonl"
    names = iter(["planted", "planted", "fresh0", "fresh1", "fresh2"])
    monkeypatch.setattr(tempfile, "_get_candidate_names", lambda: names)
    (tmp_path / ".out.jsonl.planted.tmp").symlink_to(target)
    (tmp_path / "out.jsonl.partial").symlink_to(target)
    assert node(tiny_bundle, [wav], out) == 0
    assert target.read_text() == VICTIM_TEXT
    assert out.is_file() and not out.is_symlink()
    assert all("embedding" in strict_json(line) for line in out.read_text().splitlines())
    assert next(names) == "fresh1"  # the planted name was tried (twice) and skipped
    assert not list(tmp_path.glob(".out.jsonl.fresh*"))  # renamed, nothing left behind


def test_a_link_at_the_output_name_is_replaced_not_written_through(tmp_path):
    target = victim(tmp_path / "victim.txt")
    out = tmp_path / "out.json"
    out.symlink_to(target)
    with atomic_output(out) as f:
        f.write("new\n")
    assert target.read_text() == VICTIM_TEXT
    assert not out.is_symlink() and out.read_text() == "new\n"


def test_node_disk_full_leaves_the_previous_output(tiny_bundle, tmp_path, monkeypatch, caplog):
    wav = write_wavs(tmp_path / "wavs", 1) / "clip0.wav"
    out = tmp_path / "out.jsonl"
    out.write_text("previous run\n")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    assert node(tiny_bundle, [wav], out) == 4
    assert "disk full" in caplog.text
    assert out.read_text() == "previous run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "wavs"]  # no temporary


def test_nan_embeddings_become_error_lines(tiny_bundle, tmp_path, caplog):
    """A float WAV of 1e30 samples overflows the log-mel: its windows are error lines (valid
    JSON), the good file beside it is embedded, and the exit status says something failed."""
    wavs = write_wavs(tmp_path / "wavs", 1)
    sf.write(wavs / "loud.wav", np.full(24000, 1e30, np.float32), 16000, subtype="FLOAT")
    out = tmp_path / "out.jsonl"
    assert node(tiny_bundle, [wavs], out) == 1
    lines = [strict_json(line) for line in out.read_text().splitlines()]
    loud = [line for line in lines if line["source"].endswith("loud.wav")]
    good = [line for line in lines if line["source"].endswith("clip0.wav")]
    assert loud and all("NaN/Inf" in line["error"] and "embedding" not in line for line in loud)
    assert good and all(np.isfinite(line["embedding"]).all() for line in good)
    assert "loud.wav" in caplog.text and "NaN/Inf" in caplog.text


def test_embed_never_writes_its_output_onto_its_input(artifacts, tmp_path, caplog):
    wav = write_wavs(tmp_path / "wavs", 1) / "clip0.wav"
    named_npz = wav.rename(wav.with_name("clip0.npz"))  # audio whose output name is its own
    before = sha256_file(named_npz)
    assert sea("embed", named_npz, "--model", artifacts["teacher"], "--overwrite") == 2
    assert "overlaps the input" in caplog.text
    assert sha256_file(named_npz) == before



@pytest.mark.parametrize("step", ["recover", "close"])
def test_serve_never_writes_its_ledger_through_a_link(tmp_path, step):
    """sea-node serve's data_dir/ledger.jsonl: a link planted there is refused, its target is
    neither truncated (recovery cuts an unfinished last line) nor appended to."""
    from deploy.node.segments import LEDGER, OpenSegment, SegmentDirs

    target = tmp_path / "victim.txt"
    target.write_text(VICTIM_TEXT + "no newline at the end")
    dirs = SegmentDirs(tmp_path / "data")
    segment = OpenSegment(dirs, 1, {"type": "header"})
    segment.write({"type": "window", "index": 0})
    (dirs.root / LEDGER).symlink_to(target)
    with pytest.raises(OutputError, match="ledger.jsonl is a symbolic link"):
        dirs.recover_open() if step == "recover" else segment.close()
    assert target.read_text() == VICTIM_TEXT + "no newline at the end"


def test_serve_lock_is_not_opened_through_a_link(tmp_path):
    from deploy.node.serve import LOCK_FILE, lock_data_dir

    target = victim(tmp_path / "victim.txt")
    (tmp_path / LOCK_FILE).symlink_to(target)
    with pytest.raises(OutputError, match="is a symbolic link: a lock file"):
        lock_data_dir(tmp_path)
    assert target.read_text() == VICTIM_TEXT

# -- part 3: locks and --overwrite ------------------------------------------------------------

def reduce(a, out, *extra) -> int:
    return sea("reduce", a["emb"], "--reducer", "identity", "--out", out, *extra)


@pytest.mark.parametrize("planted", ["link", "fifo"])
def test_a_link_or_fifo_at_the_lock_is_refused(artifacts, tmp_path, caplog, planted):
    out = tmp_path / "red"
    out.mkdir()
    target = victim(tmp_path / "victim.txt")
    if planted == "link":
        (out / ".lock").symlink_to(target)
    else:
        os.mkfifo(out / ".lock")  # neither opened for long nor read: no hang
    assert reduce(artifacts, out) == 2
    assert ("symbolic link" if planted == "link" else "a FIFO, not a lock file") in caplog.text
    assert target.read_text() == VICTIM_TEXT


def test_weights_digest_lock_is_not_opened_through_a_link(tmp_path, monkeypatch):
    from sea import weights

    monkeypatch.setenv("SEA_HOME", str(tmp_path / "home"))
    weights.weights_dir().mkdir(parents=True)
    target = victim(tmp_path / "victim.txt")
    (weights.weights_dir() / f".{weights.DIGESTS_FILE}.lock").symlink_to(target)
    found = victim(tmp_path / "x.h5")
    source = weights.WeightSource(filename="x.h5", url="", package="none")
    with pytest.raises(OutputError, match="symbolic link"):
        weights.check_weights(source, found, "test")
    assert target.read_text() == VICTIM_TEXT


def test_a_forged_lock_is_no_proof_of_an_artifact(artifacts, tmp_path, caplog):
    out = tmp_path / "folder"
    out.mkdir()
    (out / ".lock").write_text(json.dumps({"kind": "reducer"}))
    notes = victim(out / "notes.txt")
    assert reduce(artifacts, out, "--overwrite") == 2
    assert "not a sea artifact" in caplog.text and "notes.txt" in caplog.text
    assert notes.read_text() == VICTIM_TEXT


def test_a_killed_runs_leftovers_are_recognised_as_seas(artifacts, tmp_path):
    """Lock, layout files and temporary files of a run killed before its manifest: the same
    command takes the folder over (it is its own interrupted output)."""
    out = tmp_path / "red"
    out.mkdir()
    (out / ".lock").write_text(json.dumps({"kind": "reducer"}))
    for name in ("fit_rows.npz", ".targets.npy.k3j2h1ab.tmp", ".manifest.json.0a9z8y7x.tmp"):
        (out / name).write_bytes(b"cut off")
    assert reduce(artifacts, out) == 0
    assert read_manifest(out)["kind"] == "reducer"


def test_overwrite_removes_only_what_the_manifest_and_layout_name(artifacts, tmp_path, caplog):
    out = tmp_path / "red"
    assert reduce(artifacts, out) == 0
    notes = victim(out / "notes.txt")
    first = read_manifest(out)
    assert reduce(artifacts, out, "--overwrite") == 0
    assert notes.read_text() == VICTIM_TEXT
    assert "notes.txt" in caplog.text  # said to be left in place
    assert read_manifest(out)["reducer_id"] == first["reducer_id"]


def test_overwrite_never_follows_a_manifest_out_of_its_folder(artifacts, tmp_path):
    out = tmp_path / "red"
    assert reduce(artifacts, out) == 0
    outside = victim(tmp_path / "outside.txt")
    (tmp_path / "elsewhere").mkdir()
    beyond = victim(tmp_path / "elsewhere" / "beyond.txt")
    (out / "sub").symlink_to(tmp_path / "elsewhere")
    manifest = read_manifest(out)
    manifest["files"] = {**manifest["files"], "../outside.txt": {}, "sub/beyond.txt": {},
                         "/etc/hostname": {}}
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert reduce(artifacts, out, "--overwrite") == 0
    assert outside.read_text() == VICTIM_TEXT and beyond.read_text() == VICTIM_TEXT
    assert (out / "sub").is_symlink()  # not sea's: left in place


def test_a_users_manifest_without_a_kind_is_not_sea_bookkeeping(artifacts, tmp_path, caplog):
    out = tmp_path / "site"
    out.mkdir()
    mine = out / "manifest.json"
    mine.write_text('{"name": "my web app"}\n')
    assert reduce(artifacts, out, "--overwrite") == 2
    assert "not a sea artifact" in caplog.text
    assert mine.read_text() == '{"name": "my web app"}\n'
