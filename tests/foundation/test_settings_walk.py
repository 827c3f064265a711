"""Every option of every `sea` and `sea-node` command is declared once, as a settings field
(sea.settings): the parsers are walked and an option that did not come from a field (it lacks
the `setting` attribute sea.settings_cli.add_settings_arguments sets) fails, naming the command
and the option. Every command's settings class can be made from its defaults plus its required
fields, and its command line (sea.settings_cli.to_argv) parses back into the same settings."""

from __future__ import annotations

import argparse
import dataclasses
import enum
import importlib
import json
from pathlib import Path

import pytest

from sea.settings import OneOf, SettingError, SettingInfo, Settings, settings_fields
from sea.settings_cli import Command, add_command, run_parsed, settings_from_args, to_argv

# options argparse and sea.clirun add to every parser, not settings of a command
NOT_SETTINGS = {"-h", "--help", "--version", "-v", "--verbose"}


def sea_parser() -> argparse.ArgumentParser:
    from sea.cli import build_parser

    return build_parser()


def node_parser() -> argparse.ArgumentParser:
    from deploy.node.cli import build_parser

    return build_parser()


PROGRAMS = {"sea": sea_parser, "sea-node": node_parser}


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]):
    """(command path, parser) of the parser and every (nested) subcommand parser."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):  # argparse has no public walk
            for name, sub in action.choices.items():
                yield from walk(sub, (*path, name))


def undeclared(parser: argparse.ArgumentParser) -> list[str]:
    """The options and positionals of `parser` that no settings field declared."""
    return ["/".join(action.option_strings) or action.dest for action in parser._actions
            if not isinstance(action, argparse._SubParsersAction)
            and not NOT_SETTINGS & set(action.option_strings)
            and not hasattr(action, "setting")]


def command_parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    return [(" ".join(path), parser) for program, build in PROGRAMS.items()
            for path, parser in walk(build(), (program,))]


COMMAND_PARSERS = command_parsers()


@pytest.mark.parametrize("command, parser", COMMAND_PARSERS,
                         ids=[command for command, _ in COMMAND_PARSERS])
def test_every_option_comes_from_a_settings_field(command, parser):
    missing = undeclared(parser)
    assert not missing, f"`{command}` has options declared outside its settings class: " \
                        + ", ".join(missing)


def test_the_walk_sees_nested_actions_and_stray_options():
    commands = {command for command, _ in COMMAND_PARSERS}
    assert {"sea store info", "sea collect add-node", "sea-node run", "sea-node serve"} <= commands
    parser = argparse.ArgumentParser()
    add_command(parser.add_subparsers(), "info",
                importlib.import_module("sea.commands.store").COMMAND, "", None)
    stray = parser.add_argument("--stray")
    assert [u for _, p in walk(parser, ("x",)) for u in undeclared(p)] == ["--stray"]
    stray.setting = "declared"
    assert not [u for _, p in walk(parser, ("x",)) for u in undeclared(p)]


def commands() -> list[tuple[str, Command | None]]:
    """(command name, Command) of every `sea` and `sea-node` command; None for a module not
    converted to a settings class."""
    from deploy.node.cli import COMMAND as NODE
    from sea.cli import COMMANDS

    found: list[tuple[str, Command | None]] = []
    for name, (module_name, _) in COMMANDS.items():
        command = getattr(importlib.import_module(module_name), "COMMAND", None)
        if isinstance(command, dict):
            found += [(f"sea {name} {action}", c) for action, c in command.items()]
        else:
            found.append((f"sea {name}", command))
    return found + [(f"sea-node {name}", c) for name, c in NODE.items()]


COMMANDS = commands()


def simple_value(kind: type, info: SettingInfo, root: Path):
    """A valid value of a required field's type, or None when the type is not simple."""
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return next(iter(kind))
    if isinstance(info.check, OneOf):
        return info.check.choices[0]
    return {Path: root, str: "x", int: 1, float: 1.0}.get(kind)


def required_values(cls: type[Settings], root: Path) -> dict | None:
    values = {}
    for field, kind, info in settings_fields(cls):
        missing = dataclasses.MISSING
        if field.default is not missing or field.default_factory is not missing:
            continue
        value = simple_value(kind.element, info, root)
        if value is None:
            return None
        values[field.name] = (value,) if kind.sequence else value
    return values


@pytest.mark.parametrize("name, command", COMMANDS, ids=[name for name, _ in COMMANDS])
def test_settings_are_made_from_defaults_and_parse_back(name, command, tmp_path):
    assert isinstance(command, Command), f"`{name}` has no COMMAND (settings class + run)"
    values = required_values(command.settings, tmp_path)
    if values is None:
        pytest.skip(f"`{name}` has a required setting of a type without a simple value")
    try:
        settings = command.settings(**values)
    except SettingError as exc:  # a rule between settings wants more than simple values
        pytest.skip(f"`{name}`: {exc}")
    json.dumps(settings.record())  # the manifest's record is JSON
    parser = argparse.ArgumentParser()
    add_command(parser.add_subparsers(), "command", command, "", None)
    args = parser.parse_args(["command", *to_argv(settings)])
    assert settings_from_args(command.settings, args, parser) == settings


def test_parsed_settings_reach_run():
    """What run_parsed hands a command's run is the settings object the options give."""
    from sea.commands.models import ModelsSettings

    seen = []
    parser = argparse.ArgumentParser()
    add_command(parser.add_subparsers(), "models",
                Command(ModelsSettings, lambda s: seen.append(s) or 0), "", None)
    assert run_parsed(parser.parse_args(["models", "--json"])) == 0
    assert seen == [ModelsSettings(json=True)]
