"""Argument values are checked when parsed (sea.settings constraints): a bad value is a usage error naming
the option (exit 2) before any work or output; thread and worker counts are capped to the CPUs
this process may use, with a note."""

from __future__ import annotations

import argparse
import logging

import pytest

from sea.settings import (AT_LEAST_ONE, POSITIVE, SAMPLE_RATE, CpuCount, FileNamePart, Pattern,
                          available_cpus, convert_text)
from sea.cli import main

STORE, OUT = "STORE_DIR", "OUT_DIR"  # replaced by paths under tmp_path


@pytest.mark.parametrize("argv, option", [
    (["embed", "--model", "student3", "--hop", "0", "x.wav"], "--hop"),
    (["embed", "--model", "student3", "--hop", "nan", "x.wav"], "--hop"),
    (["embed", "--model", "student3", "--batch-size", "0", "x.wav"], "--batch-size"),
    (["embed", "--model", "student3", "--suffix", "../../escaped", "x.wav"], "--suffix"),
    (["teacher-embed", STORE, "--out", OUT, "--threads", "0"], "--threads"),
    (["teacher-embed", STORE, "--out", OUT, "--shard-rows", "-4"], "--shard-rows"),
    (["prepare", "synth:1", "--out", OUT, "--workers", "-1"], "--workers"),
    (["prepare", "synth:1", "--out", OUT, "--name-pattern", "(?P<sensor"], "--name-pattern"),
    (["prepare", "synth:1", "--out", OUT, "--sample-rate", "1"], "--sample-rate"),
    (["prepare", "synth:1", "--out", OUT, "--synth-duration", "-5"], "--synth-duration"),
    (["prepare", "synth:1", "--out", OUT, "--ray-workers", "0"], "--ray-workers"),
    (["prepare", "synth:1", "--out", OUT, "--folds", "1"], "--folds"),
    (["distill", "--store", STORE, "--targets", STORE, "--out", OUT, "--batch-size", "x"],
     "--batch-size"),
    (["distill", "--store", STORE, "--targets", STORE, "--out", OUT, "--lr", "0"], "--lr"),
    (["evaluate", "--model", "student3", "--data", STORE, "--protocol", "folds", "--out", OUT,
      "--hop", "-1"], "--hop"),
    (["reduce", STORE, "--out", OUT, "--n-fit", "0"], "--n-fit"),
    (["export", "student3", "--out", OUT, "--parity-windows", "0"], "--parity-windows"),
    (["bench", "--budget", "inf"], "--budget"),
    (["quickstart", "--out", OUT, "--eval-hop", "0"], "--eval-hop"),
])
def test_bad_values_are_refused_when_parsed(tmp_path, capsys, argv, option):
    out = tmp_path / "out"
    argv = [{STORE: str(tmp_path / "store"), OUT: str(out)}.get(a, a) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("extra, option", [
    (["--hop", "0"], "--hop"), (["--block-seconds", "inf"], "--block-seconds"),
    (["--threads", "0"], "--threads"), (["--top-k", "0"], "--top-k")])
def test_sea_node_values_are_refused_when_parsed(tmp_path, capsys, extra, option):
    from deploy.node.cli import main as node_main

    out = tmp_path / "out.jsonl"
    argv = ["run", "--bundle", str(tmp_path), "--input", "x.wav", "--out", str(out), *extra]
    assert node_main(argv) == 2
    assert f"argument {option}" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("what", ["threads", "workers"])
def test_counts_are_capped_to_the_machine_with_a_note(what, caplog):
    cpus = available_cpus()
    with caplog.at_level(logging.INFO, logger="sea.settings"):
        assert CpuCount(what).normalize(cpus + 7) == cpus
    assert f"{cpus + 7} {what}" in caplog.text and f"using {cpus}" in caplog.text
    assert CpuCount(what).normalize(1) == 1 and CpuCount(what).problem(0)


def test_good_values_pass_through():
    assert POSITIVE.problem(0.5) is None and AT_LEAST_ONE.problem(64) is None
    assert Pattern().problem(r"(?P<sensor>[^_]+)_") is None
    assert FileNamePart().problem("v2..final") is None  # dots alone stay in the name
    assert SAMPLE_RATE.problem(8000) is None and SAMPLE_RATE.problem(192000) is None
    assert SAMPLE_RATE.problem(7999) and FileNamePart().problem("a\0b") and Pattern().problem("(")
    with pytest.raises(ValueError, match="expected an integer"):
        convert_text("1.5", int)
    with pytest.raises(ValueError, match="finite"):
        convert_text("-inf", float)


def test_capped_workers_still_run(tmp_path, caplog):
    """`--workers` far above the machine's CPUs runs with what the machine has."""
    cpus = available_cpus()
    out = tmp_path / "store"
    with caplog.at_level(logging.INFO):
        assert main(["prepare", "synth:2", "--synth-duration", "2", "--no-progress",
                     "--workers", str(cpus + 30), "--out", str(out)]) == 0
    assert f"using {cpus}" in caplog.text


def _parsers(parser: argparse.ArgumentParser):
    """The parser and every (nested) subcommand parser."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):  # argparse has no public walk
            for sub in dict.fromkeys(action.choices.values()):
                yield from _parsers(sub)


def test_no_parser_accepts_abbreviated_options():
    from deploy.node.cli import build_parser as node_parser
    from sea.cli import build_parser

    parsers = [*_parsers(build_parser()), *_parsers(node_parser())]
    assert len(parsers) > 10 and not [p.prog for p in parsers if p.allow_abbrev]


@pytest.mark.parametrize("argv, option", [
    (["quickstart", "--out", OUT, "--clip", "5"], "--clip 5"),  # not --clips 5
    (["store", "info", STORE, "--verif"], "--verif"),
])
def test_an_abbreviated_option_is_refused(tmp_path, capsys, argv, option):
    out = tmp_path / "out"
    argv = [{STORE: str(tmp_path / "store"), OUT: str(out)}.get(a, a) for a in argv]
    assert main(argv) == 2
    assert f"unrecognized arguments: {option}" in capsys.readouterr().err
    assert not out.exists()


def test_store_info_on_a_missing_directory_says_it_does_not_exist(tmp_path, caplog):
    assert main(["store", "info", str(tmp_path / "nosuchdir")]) == 2
    assert f"{tmp_path / 'nosuchdir'} does not exist" in caplog.text
