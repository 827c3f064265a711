"""Settings given as several values (`nargs`) and options whose value may be left out
(`const`): the spellings `sea prepare SOURCE...`, `sea download weights NAME...`,
`sea bench --models A B` and `--ray [ADDRESS]` keep working from settings classes."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from sea.cluster import RayOptions, RaySettings
from sea.settings import SettingError, setting
from sea.settings_cli import add_settings_arguments, settings_from_args, to_argv


@dataclass(frozen=True, kw_only=True)
class Example(RaySettings):
    inputs: tuple[str, ...] = setting(positional=True, nargs="+", help="inputs")
    names: tuple[str, ...] | None = setting(None, nargs="+", help="names")


def parse(argv: list[str]) -> Example:
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser, Example)
    return settings_from_args(Example, parser.parse_args(argv), parser)


def test_several_values_and_an_option_without_its_value():
    settings = parse(["a,b", "c", "--names", "x", "y", "--ray"])
    assert settings.inputs == ("a,b", "c") and settings.names == ("x", "y")  # no comma split
    assert settings.ray_options() == RayOptions("local", 2, 1.0, 0.0)
    assert parse(["a"]).ray_options() is None and parse(["a"]).names is None
    given = parse(["a", "--ray", "auto", "--ray-workers", "3"]).ray_options()
    assert (given.address, given.workers) == ("auto", 3)


def test_to_argv_gives_the_same_settings():
    settings = parse(["a", "b", "--names", "x", "y", "--ray", "auto",
                      "--ray-gpus-per-worker", "0.5"])
    assert parse(to_argv(settings)) == settings


def test_ray_settings_are_checked_naming_the_field():
    with pytest.raises(SettingError, match="^ray_workers must be at least 1, got 0$"):
        RaySettings(ray="local", ray_workers=0)
    with pytest.raises(SettingError, match="^ray_cpus_per_worker must be greater than 0"):
        RaySettings(ray_cpus_per_worker=0)
