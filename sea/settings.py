"""One declaration per setting: a command's settings are the fields of a frozen dataclass.

A field declared with `setting(default, help=..., check=...)` carries its help text, its flag
spelling and its constraint in the field's metadata. From that one declaration come

- validation when the object is made (`Settings.__post_init__`): values are coerced to the
  field's type (str -> Path, str -> Enum, list -> tuple) and checked; a bad value raises
  `SettingError` naming the field, never a command-line flag;
- the record written into artifacts' manifests (`Settings.record`);
- the command line (`sea.settings_cli`: argparse options, parsing back into the dataclass, and
  the one place where a field name becomes `--flag`).

So the Python API and the CLI take the same objects and cannot drift apart. Torch-free: the
`sea` parser is built from these classes without importing any stage's heavy dependencies.
Help texts and error templates name other settings as `{field}`; the CLI renders that as the
field's flag and Python as the field's name.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import math
import os
import re
import types
import typing
from pathlib import Path
from typing import Any, ClassVar

from sea.errors import InvalidArgument

log = logging.getLogger("sea.settings")

_FIELD_REFERENCE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def render(template: str, name_of: typing.Callable[[str], str]) -> str:
    """`template` with each `{field}` replaced by `name_of(field)`."""
    return _FIELD_REFERENCE.sub(lambda m: name_of(m.group(1)), template)


class SettingError(InvalidArgument):
    """A setting's value is wrong. `template` names settings as `{field}`; `str()` renders them
    as parameter names (for Python callers), the CLI as flags."""

    def __init__(self, field: str, template: str) -> None:
        self.field, self.template = field, template
        super().__init__(render(template, str))


# -- constraints: what a value must satisfy, with the message that says so ------------------

class Constraint:
    """Checks one value (each element of a tuple field). `problem` returns what is wrong with
    the value, or None; `normalize` may replace a valid value (e.g. cap a thread count)."""

    def problem(self, value: Any) -> str | None:
        raise NotImplementedError

    def normalize(self, value: Any) -> Any:
        return value


@dataclasses.dataclass(frozen=True)
class Interval(Constraint):
    """A number within [low, high]; either end may be open or absent."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    why: str = ""  # appended to the message: why the bound is what it is

    def problem(self, value: Any) -> str | None:
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        too_high = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if not (too_low or too_high):
            return None
        return f"must be {self.describe()}{self.why and ' (' + self.why + ')'}, got {value:g}"

    def describe(self) -> str:
        if self.high is None:
            return f"{'greater than' if self.low_open else 'at least'} {self.low:g}"
        if self.low is None:
            return f"{'less than' if self.high_open else 'at most'} {self.high:g}"
        return (f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}"
                f"{')' if self.high_open else ']'}")


POSITIVE = Interval(0, low_open=True)
AT_LEAST_ONE = Interval(1)
NON_NEGATIVE = Interval(0)
COSINE = Interval(-1, 1)
FRACTION = Interval(0, 1)
# Sample rates a store or model may use: below 8 kHz there is no urban-sound content to model
# (the SEA students run at 8 kHz); 192 kHz is the highest rate audio interfaces record.
SAMPLE_RATE = Interval(8000, 192000)
# Adam moves every weight by up to the learning rate per step: beyond 1 training only diverges.
LEARNING_RATE = Interval(0, 1.0, low_open=True,
                         why="Adam moves each weight by up to this much per step")


def available_cpus() -> int:
    """CPUs this process may run on (the affinity mask, e.g. a container's share)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclasses.dataclass(frozen=True)
class CpuCount(Constraint):
    """A thread or worker count >= 1, capped to the CPUs available (with a note)."""

    what: str = "threads"

    def problem(self, value: Any) -> str | None:
        return None if value >= 1 else f"must be at least 1, got {value}"

    def normalize(self, value: Any) -> Any:
        cpus = available_cpus()
        if value > cpus:
            log.info("note: %d %s requested, this machine has %d CPUs: using %d",
                     value, self.what, cpus, cpus)
            return cpus
        return value


class Pattern(Constraint):
    """A regular expression that compiles (kept as text, compiled where it is used)."""

    def problem(self, value: Any) -> str | None:
        try:
            re.compile(value)
        except re.error as exc:
            return f"invalid regular expression {value!r}: {exc}"
        return None


class FileNamePart(Constraint):
    """Text that becomes part of a file name: no directory separator or NUL, so the file
    cannot land outside its output directory."""

    def problem(self, value: Any) -> str | None:
        if any(s and s in value for s in (os.sep, os.altsep, "/", "\0")):
            return f"{value!r} would leave the output directory: use no '/' or NUL"
        return None


@dataclasses.dataclass(frozen=True)
class OneOf(Constraint):
    """One of a fixed set of texts (for choices that are not an Enum)."""

    choices: tuple[str, ...]

    def problem(self, value: Any) -> str | None:
        if value in self.choices:
            return None
        return f"invalid choice {value!r} (choose from {', '.join(self.choices)})"


# -- declaring a setting ----------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class SettingInfo:
    """What `setting()` stores in a field's metadata."""

    help: str
    check: Constraint | None = None
    flag: str | None = None  # default: --name-with-dashes
    aliases: tuple[str, ...] = ()  # further spellings, e.g. a short option
    metavar: str | None = None
    positional: bool = False
    repeat: bool = False  # tuple field given as a repeated option, not comma-separated
    many: bool = False  # tuple field given as several values after one option (nargs "+")
    cli: bool = True  # False: a Python-only setting (no option)
    record: bool = True  # written into the manifest's record


def setting(default: Any = dataclasses.MISSING, *, help: str, **info: Any) -> Any:
    """A settings field: `default` (none: required), `help` (may name other fields as
    `{field}`), and the SettingInfo options (check, flag, aliases, metavar, positional,
    repeat, many, cli, record)."""
    return dataclasses.field(default=default, metadata={"setting": SettingInfo(help, **info)})


def info_of(field: dataclasses.Field) -> SettingInfo:
    try:
        return field.metadata["setting"]
    except KeyError:
        raise TypeError(f"field {field.name!r} is not declared with sea.settings.setting()") from None


@dataclasses.dataclass(frozen=True)
class FieldType:
    """A field's annotation, resolved: the element type, whether it is a tuple of them, and
    whether None is allowed."""

    element: type
    sequence: bool
    optional: bool


def field_type(annotation: Any) -> FieldType:
    args = typing.get_args(annotation)
    optional = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        optional = len(rest) < len(args)
        if len(rest) != 1:
            raise TypeError(f"unsupported settings type {annotation!r}")
        annotation = rest[0]
        args = typing.get_args(annotation)
    if typing.get_origin(annotation) is tuple:
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"settings tuples are tuple[T, ...], got {annotation!r}")
        return FieldType(args[0], True, optional)
    return FieldType(annotation, False, optional)


def _invalid_choice(value: Any, kind: type[enum.Enum]) -> str:
    return (f"invalid choice {value!r} (choose from "
            f"{', '.join(str(m.value) for m in kind)})")


def convert_text(text: str, kind: type) -> Any:
    """A command-line text as a value of `kind`; ValueError with the reason when it is none."""
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(text)
        except ValueError:
            raise ValueError(_invalid_choice(text, kind)) from None
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"expected an integer, got {text!r}") from None
    if kind is float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {text!r}")
        return value
    return kind(text)  # str, Path


def _coerce_element(value: Any, kind: type) -> Any:
    """A Python value as `kind`, accepting the obvious spellings (str for Path and Enum, an int
    for a float); raises ValueError saying what was expected."""
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        if isinstance(value, kind):
            return value
        try:
            return kind(value)
        except ValueError:
            raise ValueError(_invalid_choice(value, kind)) from None
    if kind is Path and isinstance(value, (str, os.PathLike)):
        return Path(value)
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError(f"must be a finite number, got {value}")
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind in (str, bool) and type(value) is kind:
        return value
    raise ValueError(f"expected {getattr(kind, '__name__', kind)}, got {value!r}")


class Settings:
    """Base of every settings dataclass (declare subclasses with
    `@dataclasses.dataclass(frozen=True, kw_only=True)` and `setting()` fields). Subclasses
    state cross-field rules in `check()`, raising `SettingError`."""

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field]]

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            valid = self._validated(field, field_type(hints[field.name]), value)
            if valid is not value:
                object.__setattr__(self, field.name, valid)
        self.check()

    def check(self) -> None:
        """Rules that involve more than one setting (override; raise SettingError)."""

    @staticmethod
    def _validated(field: dataclasses.Field, kind: FieldType, value: Any) -> Any:
        if value is None:
            if kind.optional:
                return None
            raise SettingError(field.name, f"{{{field.name}}} is required")
        check = info_of(field).check

        def one(element: Any) -> Any:
            try:
                element = _coerce_element(element, kind.element)
            except ValueError as exc:
                raise SettingError(field.name, f"{{{field.name}}}: {exc}") from None
            problem = check.problem(element) if check is not None else None
            if problem:
                raise SettingError(field.name, f"{{{field.name}}} {problem}")
            return check.normalize(element) if check is not None else element

        if not kind.sequence:
            return one(value)
        if isinstance(value, (str, bytes)) or not isinstance(value, typing.Iterable):
            raise SettingError(field.name, f"{{{field.name}}} must be a sequence, got {value!r}")
        values = tuple(one(v) for v in value)
        return values if values != value or type(value) is not tuple else value

    def record(self) -> dict[str, Any]:
        """The settings as JSON values, for a manifest (Enums by value, paths as text)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)
                if info_of(f).record}

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes`, validated again."""
        return dataclasses.replace(self, **changes)


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def settings_fields(cls: type[Settings]) -> list[tuple[dataclasses.Field, FieldType, SettingInfo]]:
    """Each field of a settings class with its resolved type and declaration."""
    hints = typing.get_type_hints(cls)
    return [(f, field_type(hints[f.name]), info_of(f)) for f in dataclasses.fields(cls)]
