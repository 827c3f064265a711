"""The settings layer: one declaration gives validation, the manifest record and the CLI."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from sea.clirun import ArgumentParser
from sea.settings import (AT_LEAST_ONE, LEARNING_RATE, CpuCount, Interval, OneOf, SettingError,
                          Settings, available_cpus, setting)
from sea.settings_cli import (Command, UsageError, add_command, add_settings_arguments,
                              run_parsed, settings_from_args, to_argv)


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclass(frozen=True, kw_only=True)
class Example(Settings):
    store: Path = setting(positional=True, metavar="STORE", help="a store")
    out: Path = setting(help="where it goes")
    lr: float = setting(1e-4, check=LEARNING_RATE, help="rate")
    epochs: int = setting(3, check=AT_LEAST_ONE, help="epochs")
    folds: tuple[int, ...] = setting((), check=AT_LEAST_ONE, help="folds, e.g. 4,5")
    dataset: tuple[str, ...] = setting((), repeat=True, help="datasets")
    colour: Colour = setting(Colour.RED, help="a colour")
    mode: str = setting("a", check=OneOf(("a", "b")), help="a mode")
    threads: int | None = setting(None, check=CpuCount(), help="threads (default: every core)")
    progress: bool = setting(True, flag="--no-progress", help="hide progress bars")
    resume: bool = setting(False, help="go on")
    overwrite: bool = setting(False, help="replace {out}")

    def check(self) -> None:
        if self.resume and self.overwrite:
            raise SettingError("resume", "{resume} and {overwrite} exclude each other")


def parse(argv: list[str]) -> Example:
    parser = ArgumentParser(prog="example")
    add_settings_arguments(parser, Example)
    return settings_from_args(Example, parser.parse_args(argv), parser)


def test_python_values_are_coerced_and_defaults_come_from_the_field():
    s = Example(store="s", out="o", folds=[4, 5], colour="green", lr=1)
    assert s.store == Path("s") and s.folds == (4, 5) and s.colour is Colour.GREEN
    assert s.lr == 1.0 and isinstance(s.lr, float) and s.epochs == 3 and s.progress


@pytest.mark.parametrize("changes, message", [
    ({"lr": 5.0}, "lr must be in (0, 1]"),
    ({"lr": float("nan")}, "lr: must be a finite number"),
    ({"epochs": 0}, "epochs must be at least 1, got 0"),
    ({"epochs": True}, "epochs: expected int"),
    ({"epochs": "3"}, "epochs: expected int"),
    ({"folds": (4, 0)}, "folds must be at least 1"),
    ({"folds": "45"}, "folds must be a sequence"),
    ({"colour": "blue"}, "colour: invalid choice 'blue' (choose from red, green)"),
    ({"mode": "c"}, "mode invalid choice 'c'"),
    ({"out": None}, "out is required"),
    ({"resume": True, "overwrite": True}, "resume and overwrite exclude each other"),
])
def test_a_bad_value_names_the_parameter_not_a_flag(changes, message):
    with pytest.raises(SettingError) as caught:
        Example(**{"store": "s", "out": "o", **changes})
    assert message in str(caught.value) and "--" not in str(caught.value)


def test_replace_validates_again():
    s = Example(store="s", out="o")
    with pytest.raises(SettingError, match="epochs"):
        replace(s, epochs=-1)


def test_thread_counts_are_capped_to_the_cpus():
    s = Example(store="s", out="o", threads=available_cpus() + 7)
    assert s.threads == available_cpus()


def test_the_record_is_json_values():
    s = Example(store="s", out="o", folds=(1,), colour="green")
    record = s.record()
    assert record["store"] == "s" and record["folds"] == [1] and record["colour"] == "green"
    assert record["threads"] is None and set(record) == {f for f in Example.__dataclass_fields__}


def test_the_command_line_gives_the_same_object():
    s = parse(["st", "--out", "o", "--lr", "0.01", "--folds", "4,5", "--dataset", "a",
               "--dataset", "b", "--colour", "green", "--no-progress", "--mode", "b"])
    assert s == Example(store="st", out="o", lr=0.01, folds=(4, 5), dataset=("a", "b"),
                        colour=Colour.GREEN, progress=False, mode="b")
    assert parse(["st", "--out", "o"]) == Example(store="st", out="o")


def test_to_argv_round_trips():
    s = Example(store="st", out="o", lr=0.01, folds=(4, 5), dataset=("a", "b"),
                colour="green", progress=False, threads=1, resume=True)
    assert parse(to_argv(s)) == s


@pytest.mark.parametrize("argv, message", [
    (["st", "--out", "o", "--lr", "5"], "argument --lr: must be in (0, 1]"),
    (["st", "--out", "o", "--epochs", "x"], "argument --epochs: expected an integer, got 'x'"),
    (["st", "--out", "o", "--lr", "inf"], "argument --lr: expected a finite number"),
    (["st", "--out", "o", "--folds", "4,0"], "argument --folds: must be at least 1, got 0"),
    (["st", "--out", "o", "--colour", "blue"], "invalid choice 'blue' (choose from red, green)"),
    (["st"], "the following arguments are required: --out"),
    (["st", "--out", "o", "--resume", "--overwrite"], "--resume and --overwrite exclude each other"),
])
def test_a_bad_command_line_is_a_usage_error_naming_the_option(argv, message, capsys):
    with pytest.raises(SystemExit) as caught:
        parse(argv)
    assert caught.value.code == 2 and message in capsys.readouterr().err


def test_help_shows_each_default_once_and_renders_references_as_flags(capsys):
    parser = ArgumentParser(prog="example")
    add_settings_arguments(parser, Example)
    text = parser.format_help()
    assert "(default: 0.0001)" in text and "(default: 3)" in text
    assert "replace --out" in text and "{red,green}" in text and "{a,b}" in text
    assert "threads (default: every core)" in " ".join(text.split())


def test_a_setting_error_raised_while_running_names_the_flag():
    def run(settings: Example) -> int:
        raise SettingError("out", "{out} already holds a run: set {overwrite}")

    parser = ArgumentParser(prog="x")
    add_command(parser.add_subparsers(), "go", Command(Example, run), "go", None)
    with pytest.raises(UsageError, match=r"--out already holds a run: set --overwrite"):
        run_parsed(parser.parse_args(["go", "st", "--out", "o"]))


def test_fields_must_be_declared_as_settings():
    @dataclass(frozen=True, kw_only=True)
    class Undeclared(Settings):
        x: int = 1

    with pytest.raises(TypeError, match="not declared with sea.settings.setting"):
        Undeclared()


def test_interval_messages():
    assert Interval(0, low_open=True).problem(0) == "must be greater than 0, got 0"
    assert Interval(high=1).problem(2) == "must be at most 1, got 2"
    assert Interval(0, 1).problem(0.5) is None
