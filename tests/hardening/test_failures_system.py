"""Failures of the system around a command: disk full, permission denied, Ctrl-C, a closed
pipe, a missing extra, a bug. Each is one line on stderr, a documented exit code, and a state
the same command resumes from; the traceback appears only with -v (before or after the
subcommand)."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from failures_support import REPO, assert_one_line_failure, cli, error_lines
from sea import clirun
from sea.cli import main
from sea.extras import install_hint

PREPARE = ["prepare", "synth:3", "--synth-duration", "2", "--no-progress"]


def store_ids(store: Path) -> list[str]:
    return [json.loads(line)["clip_id"] for line in (store / "index.jsonl").read_text().splitlines()]


@contextlib.contextmanager
def _tmpfs(directory: Path, options: str) -> Iterator[Path]:
    """Mount a tmpfs on `directory` (root only); a context that unmounts it."""
    directory.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(directory)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 64 KiB tmpfs, grown by calling the fixture's second value with a size."""
    def grow(size: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(mount)], check=True)

    with _tmpfs(tmp_path / "small", "size=64k") as mount:
        yield mount, grow


@pytest.fixture
def read_only_tmpfs(tmp_path):
    with _tmpfs(tmp_path / "ro", "ro,size=64k") as mount:
        yield mount


def test_disk_full_on_a_real_filesystem_then_resume(tiny_tmpfs):
    mount, grow = tiny_tmpfs
    store = mount / "store"
    result = cli("sea", *PREPARE, "--out", str(store))
    assert_one_line_failure(result, clirun.EXIT_SYSTEM, "disk full", "re-run the same command")
    grow("16m")
    again = cli("sea", *PREPARE, "--out", str(store))
    assert again.returncode == 0, again.stderr
    assert sorted(store_ids(store)) == sorted(set(store_ids(store))) and len(store_ids(store)) == 3


def test_read_only_file_system_is_one_line(read_only_tmpfs):
    result = cli("sea", *PREPARE, "--out", str(read_only_tmpfs / "store"))
    assert_one_line_failure(result, clirun.EXIT_SYSTEM, "read-only file system",
                            str(read_only_tmpfs / "store"))


def test_disk_full_in_the_atomic_writer_leaves_no_partial_file(tmp_path, monkeypatch, caplog):
    """ENOSPC simulated where every artifact file is committed (works without root)."""
    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    out = tmp_path / "store"
    monkeypatch.setattr("sea.safe_write.os.fsync", no_space)
    assert main([*PREPARE, "--out", str(out)]) == clirun.EXIT_SYSTEM
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        "disk full: free some space, then re-run the same command to resume"]
    assert not list(out.rglob("*.tmp")), "a partial file was left behind"
    monkeypatch.undo()
    assert main([*PREPARE, "--out", str(out)]) == 0
    assert len(store_ids(out)) == 3


def _as_nobody(function, stderr_file: Path) -> int:
    """Run `function` in a forked child whose user is `nobody`, so that the kernel refuses
    writes as it would for any non-root user; its stderr goes to `stderr_file`."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 99
        try:
            with open(stderr_file, "w") as err:
                os.dup2(err.fileno(), 2)
                sys.stderr = err
                root = logging.getLogger()
                for handler in list(root.handlers):  # pytest's capture: let sea log to stderr
                    root.removeHandler(handler)
                os.setgid(65534)
                os.setuid(65534)
                code = function()
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_permission_denied_is_one_line(tmp_path):
    denied = tmp_path / "read-only"
    denied.mkdir()
    denied.chmod(0o555)
    argv = [*PREPARE, "--out", str(denied / "store")]
    if os.geteuid() != 0:
        result = cli("sea", *argv)
        code, stderr = result.returncode, result.stderr
    else:  # root ignores modes: drop to `nobody` in a fork (modules imported beforehand)
        import data_prep.prepare  # noqa: F401
        from sea.cli import build_parser

        build_parser()
        stderr_file = tmp_path / "stderr.txt"
        code = _as_nobody(lambda: main(argv), stderr_file)
        stderr = stderr_file.read_text()
    assert code == clirun.EXIT_SYSTEM, stderr
    assert "Traceback" not in stderr
    (line,) = error_lines(stderr)
    assert "permission denied" in line and str(denied) in line


def test_ctrl_c_is_exit_130_and_the_same_command_resumes(tmp_path):
    store = tmp_path / "store"
    cmd = [sys.executable, "-m", "sea.cli", "prepare", "synth:20", "--synth-duration", "2",
           "--no-progress", "--out", str(store)]
    # A terminal's Ctrl-C: the child gets SIGINT's default disposition even when this test runs
    # as a background job (a shell starts those with SIGINT ignored, and Python keeps it so).
    proc = subprocess.Popen(cmd, cwd=REPO, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    index = store / "index.jsonl"
    while time.time() < deadline and proc.poll() is None:
        if index.exists() and index.read_bytes().count(b"\n") >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    result = subprocess.CompletedProcess(cmd, proc.returncode, "", stderr)
    assert_one_line_failure(result, clirun.EXIT_INTERRUPTED,
                            "interrupted; re-run the same command to resume")
    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    ids = store_ids(store)
    assert len(ids) == len(set(ids)) == 20


def test_closed_pipe_exits_quietly():
    """`sea models | head -0`: the reader is gone before the first write."""
    proc = subprocess.Popen([sys.executable, "-m", "sea.cli", "models"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == clirun.EXIT_BROKEN_PIPE
    assert stderr == ""


def test_missing_extra_names_it_in_one_line(tmp_path):
    """Without torch (hidden from the import system), `sea embed` says what to install."""
    code = ("import sys; sys.modules['torch'] = None\n"
            "from sea.cli import main\n"
            f"sys.exit(main(['embed', '--model', 'student3', {str(tmp_path / 'x.wav')!r}]))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert_one_line_failure(result, clirun.EXIT_MISSING_EXTRA,
                            install_hint("torch", "`sea embed`"))


@pytest.fixture
def buggy_models(monkeypatch):
    def bug():
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("sea.commands.models.describe_models", bug)


@pytest.mark.parametrize("argv, traceback_shown", [
    (["models"], False), (["-v", "models"], True), (["models", "-v"], True),
    (["models", "--verbose"], True)])
def test_a_bug_is_one_line_and_the_traceback_needs_v(buggy_models, capsys, caplog, argv,
                                                      traceback_shown):
    assert main(argv) == clirun.EXIT_INTERNAL
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith("internal error: ZeroDivisionError")
    assert ("Traceback" in capsys.readouterr().err) == traceback_shown


@pytest.mark.parametrize("argv", [
    ["-v", "run", "--bundle", "missing", "--input", "x.wav", "--out", "-"],
    ["run", "--bundle", "missing", "--input", "x.wav", "--out", "-", "-v"]])
def test_sea_node_accepts_v_before_and_after_run(tmp_path, argv, caplog):
    from deploy.node.cli import main as node_main

    argv = [str(tmp_path / a) if a == "missing" else a for a in argv]
    assert node_main(argv) == 2
    assert any("no bundle at" in r.getMessage() for r in caplog.records)


def test_nested_store_info_accepts_v_after_its_action(tmp_path, caplog):
    assert main(["store", "info", str(tmp_path / "none"), "-v"]) == 2
    assert any("none does not exist" in r.getMessage() for r in caplog.records)


def test_a_nested_step_leaves_the_failure_to_the_outer_command(monkeypatch, caplog):
    """`sea quickstart` runs its steps through main(): Ctrl-C in a step still ends the whole
    command with one line and exit 130 (not a second 'step failed' error)."""
    from sea.commands import models, store
    from sea.settings_cli import Command

    def interrupted_step(settings):
        raise KeyboardInterrupt

    monkeypatch.setattr(models, "COMMAND", Command(models.ModelsSettings, interrupted_step))
    monkeypatch.setitem(store.COMMAND, "info",
                        Command(store.StoreInfoSettings, lambda settings: main(["models"])))
    assert main(["store", "info", "anything"]) == clirun.EXIT_INTERRUPTED
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        clirun.INTERRUPTED]
