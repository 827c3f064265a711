"""The command line made from settings classes (sea.settings): argparse options, parsing back
into the dataclass, and the only place where a field name becomes a `--flag`.

A command module exposes `COMMAND`: a `Command` (settings class + `run(settings) -> int`) or a
dict of them for a command with actions (`sea store info`, `sea keys new`, `sea-node run`).
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
from collections.abc import Callable
from typing import Any

from sea.errors import SeaError
from sea.settings import (FieldType, OneOf, SettingError, Settings, SettingInfo, convert_text,
                          render, settings_fields)


@dataclasses.dataclass(frozen=True)
class Command:
    """One runnable command: its settings and what runs them."""

    settings: type[Settings]
    run: Callable[[Any], int]
    help: str = ""  # one line for the parent's list of actions


def flag(field: dataclasses.Field | str, info: SettingInfo | None = None) -> str:
    """The option spelling of a field: its declared flag, else --name-with-dashes."""
    name = field if isinstance(field, str) else field.name
    if info is not None and info.flag:
        return info.flag
    return "--" + name.replace("_", "-")


def flags_of(cls: type[Settings]) -> dict[str, str]:
    """field name -> how the CLI names it (the metavar for a positional)."""
    return {f.name: (info.metavar or f.name.upper()) if info.positional else flag(f, info)
            for f, _, info in settings_fields(cls)}


def _shown(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, tuple):
        return ",".join(_shown(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _help(field: dataclasses.Field, info: SettingInfo, names: dict[str, str]) -> str:
    text = render(info.help, lambda name: names.get(name, name))
    default = field.default
    if (default not in (dataclasses.MISSING, None, False, ()) and not info.positional
            and not isinstance(default, bool) and "default" not in text.lower()):
        text += f" (default: {_shown(default)})"
    return text.replace("%", "%%")  # argparse %-formats help texts


def _parser_of(kind: FieldType, info: SettingInfo, comma: bool) -> Callable[[str], Any]:
    """argparse `type=`: converts and checks one command-line text (a usage error naming the
    option, before any work starts)."""

    def one(text: str) -> Any:
        try:
            value = convert_text(text, kind.element)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        problem = info.check.problem(value) if info.check is not None else None
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    if not comma:
        return one

    def many(text: str) -> tuple:
        return tuple(one(part) for part in text.split(","))

    return many


def _metavar(kind: FieldType, info: SettingInfo) -> str | None:
    if info.metavar:
        return info.metavar
    if isinstance(kind.element, type) and issubclass(kind.element, enum.Enum):
        return "{" + ",".join(str(m.value) for m in kind.element) + "}"
    if isinstance(info.check, OneOf):
        return "{" + ",".join(info.check.choices) + "}"
    return None


def add_settings_arguments(parser: argparse.ArgumentParser, cls: type[Settings]) -> None:
    """One argparse option (or positional) per CLI field of `cls`. Options default to
    SUPPRESS, so parsing yields only what was given and the dataclass supplies the rest."""
    names = flags_of(cls)
    own = vars(cls).get("__annotations__", {})  # the command's own settings first in --help
    for field, kind, info in sorted(settings_fields(cls), key=lambda s: s[0].name not in own):
        if not info.cli:
            continue
        required = field.default is dataclasses.MISSING
        options: dict[str, Any] = {"help": _help(field, info, names), "dest": field.name}
        if kind.element is bool:
            if kind.sequence:
                raise TypeError(f"{cls.__name__}.{field.name}: no tuples of bools")
            options["action"] = "store_false" if field.default is True else "store_true"
        else:
            several = kind.sequence and (info.repeat or info.nargs is not None)
            options["type"] = _parser_of(kind, info, comma=kind.sequence and not several)
            if kind.sequence and info.repeat:
                options["action"] = "append"
            if info.nargs is not None or info.const is not None:
                options["nargs"] = info.nargs or "?"
            if info.const is not None:
                options["const"] = info.const
            metavar = _metavar(kind, info)
            if metavar:
                options["metavar"] = metavar
        if info.positional:
            del options["dest"]
            options.pop("metavar", None)
            if not required:
                options.setdefault("nargs", "?")
            action = parser.add_argument(field.name, metavar=names[field.name],
                                         default=argparse.SUPPRESS, **options)
        else:
            action = parser.add_argument(flag(field, info), *info.aliases, required=required,
                                         default=argparse.SUPPRESS, **options)
        action.setting = f"{cls.__name__}.{field.name}"  # tests: every option comes from a field


def settings_from_args(cls: type[Settings], args: argparse.Namespace,
                       parser: argparse.ArgumentParser) -> Settings:
    """The settings the parsed command line gives; a cross-field rule's failure is a usage
    error (exit 2) naming the options."""
    given = {f.name: getattr(args, f.name) for f, _, info in settings_fields(cls)
             if info.cli and hasattr(args, f.name)}
    for f, kind, info in settings_fields(cls):
        if f.name in given and kind.sequence and (info.repeat or info.nargs is not None):
            given[f.name] = tuple(given[f.name])
    try:
        return cls(**given)
    except SettingError as exc:
        names = flags_of(cls)
        parser.error(render(exc.template, lambda name: names.get(name, name)))


def to_argv(settings: Settings) -> list[str]:
    """The command-line arguments that give `settings` (options that differ from their
    defaults): for relaunching the same command in other processes (torchrun)."""
    argv: list[str] = []
    for field, kind, info in settings_fields(type(settings)):
        value = getattr(settings, field.name)
        if not info.cli or (field.default is not dataclasses.MISSING and value == field.default):
            continue
        several = kind.sequence and info.nargs is not None
        if info.positional:
            argv += [_shown(v) for v in value] if several else [_shown(value)]
        elif kind.element is bool:
            argv.append(flag(field, info))
        elif kind.sequence and info.repeat:
            for element in value:
                argv += [flag(field, info), _shown(element)]
        elif several:
            argv += [flag(field, info), *(_shown(v) for v in value)]
        elif value is not None:
            argv += [flag(field, info), _shown(value)]
    return argv


def add_command(subparsers: Any, name: str, command: Command | dict[str, Command],
                help_text: str, description: str | None) -> None:
    """Add `name` (and its actions, when `command` is a dict) to `subparsers`. A description
    with indented lines (usage examples) is shown as written."""
    preformatted = "\n    " in (description or "")
    parser = subparsers.add_parser(
        name, help=help_text, description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter if preformatted
        else argparse.HelpFormatter)
    if isinstance(command, Command):
        add_settings_arguments(parser, command.settings)
        parser.set_defaults(_command=command, _parser=parser)
        return
    actions = parser.add_subparsers(dest=f"{name}_action", metavar="ACTION", required=True)
    for action_name, action in command.items():
        add_command(actions, action_name, action, action.help, description)


class UsageError(SeaError):
    """A setting the library found wrong while running, named as the command line names it."""


def run_parsed(args: argparse.Namespace) -> int | None:
    """Make the settings of the parsed command and run it; None when no command was given.
    A SettingError raised while running names fields; it is reported with their flags."""
    command: Command | None = getattr(args, "_command", None)
    if command is None:
        return None
    settings = settings_from_args(command.settings, args, args._parser)
    try:
        return command.run(settings)
    except SettingError as exc:
        names = flags_of(command.settings)
        raise UsageError(render(exc.template, lambda name: names.get(name, name))) from exc
