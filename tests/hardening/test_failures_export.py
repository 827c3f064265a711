"""A successful `sea export` looks successful (no third-party warnings on stderr) and writes a
bundle with the user's umask; the bundle's node then fails cleanly on a closed pipe and on a
damaged .tflite. One export, in a subprocess as a user runs it, serves every test here."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from failures_support import REPO, assert_one_line_failure, cli, deploy_fixtures, write_tone
from sea import clirun
from sea.manifest import atomic_write_json
from sea.safe_write import current_umask

# The only lines a quiet export may print: this project's own INFO log records.
OWN_INFO = re.compile(r"^INFO (sea|training|deploy|data_prep)[.\w]*: ")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    fixtures = deploy_fixtures()
    student = fixtures.write_tiny_checkpoint(root / "student")
    store = fixtures.write_store(root / "store", clips=2, seconds=2.0)
    bundle = root / "bundle"
    result = cli("sea", "export", str(student), "--out", str(bundle), "--frontend", "outside",
                 "--calibration", str(store), "--parity-windows", "4", umask=0o022,
                 timeout=600)
    assert result.returncode == 0, result.stderr
    return bundle, result


def test_successful_export_has_no_warning_lines(exported):
    _, result = exported
    noise = [line for line in result.stderr.splitlines() if line and not OWN_INFO.match(line)]
    assert noise == [], "third-party noise on stderr:\n" + "\n".join(noise)
    assert "bundle written to" in result.stdout


def test_bundle_is_written_with_the_umask(exported):
    bundle, _ = exported
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o755
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in bundle.iterdir()}
    assert modes and set(modes.values()) == {0o644}, modes


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_atomic_writer_follows_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        assert current_umask() == umask
        atomic_write_json(tmp_path / "a.json", {"x": 1})
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == mode


def test_downloaded_weights_follow_the_umask(tmp_path):
    from sea.weights import download

    source = tmp_path / "w.h5"
    source.write_bytes(b"weights")
    previous = os.umask(0o022)
    try:
        dest = download(source.as_uri(), tmp_path / "cache" / "w.h5")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644


def test_node_on_a_closed_pipe_exits_quietly(exported, tmp_path):
    """`sea-node run ... --out - | head -0`."""
    bundle, _ = exported
    clip = write_tone(tmp_path / "tone.wav", seconds=3.0)
    proc = subprocess.Popen([sys.executable, "-m", "deploy.node.cli", "run", "--bundle",
                             str(bundle), "--input", str(clip), "--out", "-"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) == clirun.EXIT_BROKEN_PIPE, stderr
    assert not re.search(r"Traceback|BrokenPipe|Exception ignored|ERROR", stderr), stderr


def test_node_refuses_a_damaged_tflite_in_one_line(exported, tmp_path):
    bundle = Path(shutil.copytree(exported[0], tmp_path / "bundle"))
    model = next(bundle.glob("*.tflite"))
    model.write_bytes(b"TFL3" + b"\x00garbage" * 64)
    clip = write_tone(tmp_path / "tone.wav")
    result = cli("node", "run", "--bundle", str(bundle), "--input", str(clip), "--out",
                 str(tmp_path / "out.jsonl"))
    assert_one_line_failure(result, clirun.EXIT_USAGE, model.name)
