"""Inputs that once ended as "internal error ... please report it" (exit 70) are one line that
names the cause and the option or file (exit 2); advice points at the cause; file names with
control characters are printed escaped."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from failures_support import cli, write_tone

STORE_ARGS = ["--student", "custom", "--filters", "4,8,8,8", "--dim", "8", "--epochs", "1",
              "--batch-size", "4", "--threads", "1", "--sample-rate", "8000"]


def one_line_failure(result) -> str:
    """Exit 2, no traceback, no internal error, exactly one error line (ours or argparse's)."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    lines = [line for line in result.stderr.splitlines()
             if line.startswith("ERROR") or ": error: " in line]
    assert len(lines) == 1, result.stderr
    return lines[0]


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def with_head(bundle: Path, **arrays: np.ndarray) -> Path:
    """`bundle` with head.npz holding `arrays`, listed in its manifest with its digest."""
    from sea.integrity import file_record

    np.savez(bundle / "head.npz", **arrays)

    def add(manifest: dict) -> None:
        manifest["head"] = {"file": "head.npz"}
        manifest["files"]["head.npz"] = file_record(bundle / "head.npz")

    edit_json(bundle / "manifest.json", add)
    return bundle


@pytest.fixture(scope="module")
def tone(tmp_path_factory) -> Path:
    return write_tone(tmp_path_factory.mktemp("audio") / "tone.wav")


def node(bundle: Path, tone: Path, out: Path, *extra: str):
    return cli("node", "run", "--bundle", str(bundle), "--input", str(tone), "--out", str(out),
               *extra)


def case_hop(tmp_path, tiny_bundle, artifacts, tone):
    return node(tiny_bundle, tone, tmp_path / "out.jsonl", "--hop", "1e-7"), ["--hop", "hop"]


def case_lr(tmp_path, tiny_bundle, artifacts, tone):
    return cli("sea", "distill", "--store", str(artifacts["store"]), "--targets",
               str(artifacts["red"]), "--out", str(tmp_path / "ckpt"), *STORE_ARGS,
               "--lr", "1e300"), ["--lr", "1e+300"]


def case_manifest_types(tmp_path, tiny_bundle, artifacts, tone):
    bundle = shutil.copytree(tiny_bundle, tmp_path / "bundle")
    edit_json(bundle / "manifest.json", lambda m: m.update(variants=[1, 2]))
    return (node(bundle, tone, tmp_path / "out.jsonl"),
            [str(bundle / "manifest.json"), "'variants'", "must be an object, not a list"])


def case_hostile_window(tmp_path, tiny_bundle, artifacts, tone):
    """Once "out of memory: use a smaller --batch-size": the advice for a batch, not the cause."""
    bundle = shutil.copytree(tiny_bundle, tmp_path / "bundle")
    edit_json(bundle / "manifest.json",
              lambda m: m["config"]["frontend"].update(window_seconds=1e9))
    return (node(bundle, tone, tmp_path / "out.jsonl"),
            [str(bundle / "manifest.json"), "window_seconds", "outside"])


def case_head(tmp_path, tiny_bundle, artifacts, tone):
    dim = json.loads((tiny_bundle / "manifest.json").read_text())["config"]["filters"][-1]
    bundle = with_head(shutil.copytree(tiny_bundle, tmp_path / "bundle"),
                       weights_0=np.ones((dim, 4), np.float32), bias_0=np.zeros(4, np.float32),
                       weights_1=np.ones((4, 2), np.float32), labels=np.array(["a", "b"]))
    return node(bundle, tone, tmp_path / "out.jsonl"), [str(bundle / "head.npz"), "bias_1"]


def case_shard_geometry(tmp_path, tiny_bundle, artifacts, tone):
    emb = shutil.copytree(artifacts["emb"], tmp_path / "emb")
    edit_json(emb / "manifest.json", lambda m: m["config"].update(shard_rows=0))
    return (cli("sea", "reduce", str(emb), "--reducer", "identity", "--out",
                str(tmp_path / "red")), [str(emb / "manifest.json"), "shard_rows 0"])


def case_index_labels(tmp_path, tiny_bundle, artifacts, tone):
    store = shutil.copytree(artifacts["store"], tmp_path / "store")
    rows = [json.loads(line) for line in (store / "index.jsonl").read_text().splitlines()]
    rows[1]["labels"] = 3
    (store / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return cli("sea", "store", "info", str(store)), [str(store / "index.jsonl"), "labels"]


def case_quickstart_state(tmp_path, tiny_bundle, artifacts, tone):
    (tmp_path / "qs").mkdir()
    (tmp_path / "qs" / "quickstart.json").write_text('{"settings": {}, "steps": [')
    return (cli("sea", "quickstart", "--out", str(tmp_path / "qs")),
            [str(tmp_path / "qs" / "quickstart.json"), "not a readable quickstart state"])


def case_world_size(tmp_path, tiny_bundle, artifacts, tone):
    return (cli("sea", "distill", "--store", str(artifacts["store"]), "--targets",
                str(artifacts["red"]), "--out", str(tmp_path / "ckpt"), *STORE_ARGS,
                env={"WORLD_SIZE": "2"}),
            ["RANK", "WORLD_SIZE", "--nproc"])


def case_store_as_model(tmp_path, tiny_bundle, artifacts, tone):
    return (cli("sea", "export", str(artifacts["store"]), "--out", str(tmp_path / "x")),
            [str(artifacts["store"]), "'clip_store' artifact", "student-checkpoint"])


@pytest.mark.parametrize("case", [case_hop, case_lr, case_manifest_types, case_hostile_window,
                                  case_head,
                                  case_shard_geometry, case_index_labels,
                                  case_quickstart_state, case_world_size, case_store_as_model],
                         ids=lambda c: c.__name__[len("case_"):])
def test_one_line_naming_the_cause(tmp_path, tiny_bundle, artifacts, tone, case):
    result, needles = case(tmp_path, tiny_bundle, artifacts, tone)
    line = one_line_failure(result)
    for needle in needles:
        assert needle in line, line
    assert "batch-size" not in line


def test_rank_must_be_set_and_below_world_size(monkeypatch):
    from sea.errors import InvalidArgument
    from training import ddp

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(InvalidArgument, match="RANK is not set"):
        ddp.init_from_env(None)
    monkeypatch.setenv("RANK", "5")
    with pytest.raises(InvalidArgument, match="RANK is 5, not below WORLD_SIZE 2"):
        ddp.init_from_env(None)


def test_batch_size_advice_only_for_a_batch(caplog):
    """MemoryError in a batch loop advises --batch-size; anywhere else (a hostile input's
    declared size) it names the allocation instead."""
    from sea import clirun
    from sea.errors import batch_allocation

    def batch() -> int:
        with batch_allocation(64):
            raise MemoryError("Unable to allocate 12.0 GiB for an array with shape (64, 50331648)")

    def elsewhere() -> int:
        raise MemoryError("Unable to allocate 8.00 EiB for an array with shape (2**60,)")

    with caplog.at_level(logging.ERROR):
        assert clirun.run_cli(batch, [], "sea") == clirun.EXIT_SYSTEM
        assert clirun.run_cli(elsewhere, [], "sea") == clirun.EXIT_SYSTEM
    batch_line, other_line = [r.getMessage() for r in caplog.records]
    assert "smaller --batch-size" in batch_line and "batch of 64" in batch_line
    assert "batch-size" not in other_line and "8.00 EiB" in other_line


@pytest.mark.parametrize("program, args", [
    ("sea", ["store", "info", "{name}"]),
    ("node", ["run", "--bundle", "{name}", "--input", "x.wav", "--out", "{out}"]),
    ("sea", ["verify", "{bundle}", "--trust", "{name}"]),
])
def test_control_characters_in_file_names_are_escaped(tmp_path, tiny_bundle, program, args):
    name = str(tmp_path / "evil\nERROR forged line \x1b[31mred")
    args = [a.format(name=name, out=tmp_path / "out.jsonl", bundle=tiny_bundle) for a in args]
    line = one_line_failure(cli(program, *args))
    assert "\x1b" not in line and "evil\\nERROR forged line \\x1b[31mred" in line


def stdout_cases(tmp_path: Path, tiny_bundle: Path, artifacts: dict, evil: str) -> list[list[str]]:
    """Reports on stdout that name a path chosen elsewhere: a bundle, a store, a key directory,
    a skipped recording inside a scanned folder."""
    shutil.copytree(tiny_bundle, tmp_path / f"bundle{evil}")
    shutil.copytree(artifacts["store"], tmp_path / f"store{evil}")
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    write_tone(recordings / "tone.wav")
    (recordings / f"cut{evil}.wav").write_bytes(b"RIFF\x00\x00")  # skipped: not decodable
    return [["verify", str(tmp_path / f"bundle{evil}")],
            ["store", "info", str(tmp_path / f"store{evil}")],
            ["keys", "new", "--out", str(tmp_path / f"keys{evil}")],
            ["prepare", f"folder:{recordings}", "--out", str(tmp_path / f"prepared{evil}"),
             "--sample-rate", "8000", "--no-progress"]]


def test_control_characters_in_names_are_escaped_on_stdout(tmp_path, tiny_bundle, artifacts):
    evil = "\nforged line \x1b[31m"
    for args in stdout_cases(tmp_path, tiny_bundle, artifacts, evil):
        result = cli("sea", *args)
        assert result.returncode == 0, (args, result.stderr)
        assert "\x1b" not in result.stdout, args
        named = [line for line in result.stdout.splitlines() if "forged line" in line]
        assert named and all("\\nforged line \\x1b[31m" in line for line in named), args
