"""Nothing is replaced silently: one output guard for every writing command."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lost_support import sea, write_wavs
from sea.manifest import read_manifest, sha256_file
from sea.output import OutputError, claim_output, existing_kind

STUDENT = ["--student", "custom", "--filters", "4,8,8,8", "--threads", "1", "--batch-size",
           "8", "--val-folds", "4"]


def distill(a, out, *extra) -> int:
    return sea("distill", "--store", a["store"], "--targets", a["red"], "--out", out,
               *STUDENT, *extra)


def reduce(a, out, *extra) -> int:
    return sea("reduce", a["emb"], "--reducer", "identity", "--out", out, *extra)


def teacher_embed(a, out, *extra) -> int:
    return sea("teacher-embed", a["store"], "--teacher", a["teacher"], "--out", out, "--hop",
               "0.5", "--threads", "1", *extra)


def prepare(src, out, *extra) -> int:
    return sea("prepare", f"folder:{src}", "--out", out, "--sample-rate", "16000",
               "--no-progress", *extra)


def digests(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): sha256_file(p) for p in sorted(path.rglob("*"))
            if p.is_file()}


VICTIM_KINDS = {"store": "clip_store", "emb": "embedding_store", "red": "reducer",
                "teacher": "student-checkpoint"}
OWN_KIND = {"reduce": "reducer", "distill": "student-checkpoint",
            "teacher-embed": "embedding_store", "prepare": "clip_store"}
WRITERS = ["reduce", "distill", "teacher-embed", "prepare", "export", "evaluate", "quickstart",
           "embed"]


@pytest.mark.parametrize("command, victim", [  # same kind: the --overwrite tests below
    (c, v) for c in WRITERS for v, kind in VICTIM_KINDS.items() if OWN_KIND.get(c) != kind])
def test_no_command_writes_into_another_kind_of_artifact(artifacts, tmp_path, caplog,
                                                         command, victim):
    target = tmp_path / victim
    shutil.copytree(artifacts[victim], target, symlinks=True)
    before = digests(target)
    run = {"reduce": lambda: reduce(artifacts, target),
           "distill": lambda: distill(artifacts, target, "--epochs", "1"),
           "teacher-embed": lambda: teacher_embed(artifacts, target),
           "prepare": lambda: prepare(write_wavs(tmp_path / "wavs", 1), target),
           "export": lambda: _export(artifacts, target),
           "evaluate": lambda: _evaluate(artifacts, target),
           "quickstart": lambda: sea("quickstart", "--out", target),
           "embed": lambda: sea("embed", write_wavs(tmp_path / "wavs", 1), "--model",
                                artifacts["teacher"], "--output-dir", target)}[command]
    kind = read_manifest(target)["kind"]
    assert kind == VICTIM_KINDS[victim]
    assert run() == 2
    assert f"holds a {kind!r} artifact" in caplog.text
    assert digests(target) == before  # nothing written, nothing replaced


def test_replacing_the_same_kind_needs_overwrite(artifacts, tmp_path, caplog):
    out = tmp_path / "red"
    assert reduce(artifacts, out) == 0
    first = read_manifest(out)
    assert reduce(artifacts, out) == 2
    assert "pass --overwrite" in caplog.text
    assert read_manifest(out) == first
    assert reduce(artifacts, out, "--overwrite") == 0
    assert read_manifest(out)["created"] >= first["created"]
    assert read_manifest(out)["reducer_id"] == first["reducer_id"]  # deterministic


def test_distill_overwrite_and_resume(artifacts, tmp_path, caplog):
    out = tmp_path / "student"
    assert distill(artifacts, out, "--epochs", "1") == 0
    assert distill(artifacts, out, "--epochs", "1") == 2
    assert "--resume" in caplog.text and "--overwrite" in caplog.text
    assert distill(artifacts, out, "--epochs", "2", "--resume") == 0
    assert read_manifest(out)["epoch"] in (1, 2)
    assert distill(artifacts, out, "--epochs", "1", "--overwrite") == 0
    assert [p.name for p in sorted((out / "epochs").iterdir())] == ["0001"]


def test_distill_never_trains_over_another_checkpoint(artifacts, tmp_path, caplog):
    other = tmp_path / "teacher"
    shutil.copytree(artifacts["teacher"], other)
    before = digests(other)
    assert distill(artifacts, other, "--epochs", "1") == 2
    assert "pass --overwrite" in caplog.text
    assert distill(artifacts, other, "--epochs", "1", "--resume") == 2
    assert "cannot resume" in caplog.text
    assert digests(other) == before


def test_resume_of_the_same_command_stays_allowed(artifacts, tmp_path):
    emb = tmp_path / "emb"
    assert teacher_embed(artifacts, emb) == 0
    before = digests(emb / "shards")
    assert teacher_embed(artifacts, emb) == 0  # finished: a no-op
    assert digests(emb / "shards") == before
    src = write_wavs(tmp_path / "wavs", 2)
    assert prepare(src, tmp_path / "store") == 0
    assert prepare(src, tmp_path / "store") == 0  # resume / extend, as before
    assert read_manifest(tmp_path / "store")["clips"] == 2
    assert prepare(src, tmp_path / "store", "--overwrite") == 0
    assert len(read_manifest(tmp_path / "store")["runs"]) == 1  # a new store


@pytest.mark.parametrize("case", ["reduce-onto-input", "reduce-inside-input",
                                  "prepare-inside-source", "distill-onto-targets"])
def test_an_output_that_is_an_input_is_refused(artifacts, tmp_path, caplog, case):
    src = write_wavs(tmp_path / "wavs", 1)
    code = {"reduce-onto-input": lambda: reduce(artifacts, artifacts["emb"]),
            "reduce-inside-input": lambda: reduce(artifacts, artifacts["emb"] / "red"),
            "prepare-inside-source": lambda: prepare(src, src / "store"),
            "distill-onto-targets": lambda: distill(artifacts, artifacts["red"], "--epochs", "1",
                                                    "--overwrite")}[case]()
    assert code == 2
    assert "overlaps the input" in caplog.text
    assert not (artifacts["emb"] / "red").exists() and not (src / "store").exists()


def test_a_folder_of_other_files_is_never_an_output(artifacts, tmp_path, caplog):
    folder = tmp_path / "recordings"
    write_wavs(folder, 1)
    assert reduce(artifacts, folder) == 2
    assert "not a sea artifact" in caplog.text
    assert [p.name for p in folder.iterdir()] == ["clip0.wav"]


def test_every_manifest_records_its_kind(artifacts):
    kinds = {name: read_manifest(path)["kind"] for name, path in artifacts.items()}
    assert kinds == {"store": "clip_store", "teacher": "student-checkpoint",
                     "emb": "embedding_store", "red": "reducer"}


def test_interrupted_first_run_is_recognised_by_its_lock_record(tmp_path):
    from training.reduce import REDUCER_LAYOUT

    out = tmp_path / "red"
    with claim_output(out, "reducer", layout=REDUCER_LAYOUT):
        (out / "fit_rows.npz").write_bytes(b"partial")
    assert existing_kind(out) == "reducer"  # no manifest yet: the lock says what it was
    with pytest.raises(OutputError, match="holds a 'reducer'"):
        claim_output(out, "bundle")
    claim_output(out, "reducer", layout=REDUCER_LAYOUT).release()  # the same command may redo it


HOLD = textwrap.dedent("""
    import sys, time
    from sea.output import claim_output
    lock = claim_output(sys.argv[1], sys.argv[2])
    print("held", flush=True)
    time.sleep(60)
""")


@pytest.mark.parametrize("command", ["prepare", "teacher-embed", "reduce", "distill",
                                     "export", "evaluate", "embed"])
def test_concurrent_writers_share_one_lock(artifacts, tmp_path, caplog, command):
    from sea.bundle import BUNDLE_KIND

    kinds = {"prepare": "clip_store", "teacher-embed": "embedding_store", "reduce": "reducer",
             "distill": "student-checkpoint", "export": BUNDLE_KIND,
             "evaluate": "evaluation-report", "embed": "audio-embeddings"}
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out), kinds[command]],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        wavs = write_wavs(tmp_path / "wavs", 1)
        run = {
            "prepare": lambda: prepare(wavs, out),
            "teacher-embed": lambda: teacher_embed(artifacts, out),
            "reduce": lambda: reduce(artifacts, out),
            "distill": lambda: distill(artifacts, out, "--epochs", "1"),
            "export": lambda: _export(artifacts, out),
            "evaluate": lambda: _evaluate(artifacts, out),
            "embed": lambda: sea("embed", wavs, "--model", artifacts["teacher"],
                                 "--output-dir", out),
        }[command]
        assert run() == 2
        assert "being written by another process" in caplog.text
    finally:
        holder.kill()
        holder.wait()


def _export(a, out) -> int:
    return sea("export", a["teacher"], "--out", out, "--frontend", "outside",
               "--parity-windows", "2")


def _evaluate(a, out) -> int:
    return sea("evaluate", "--model", a["teacher"], "--data", a["store"], "--protocol", "folds",
               "--out", out, "--classifier", "logreg", "--no-progress")
