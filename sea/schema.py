"""Value types of JSON read from files (manifests, index lines, run state), checked in one place.

A manifest copied between machines, edited by hand or crafted may hold any JSON. Readers
declare what they use as a small schema (`Fields`, `MapOf`, `ListOf`, Python types, tuples of
alternatives) and `check` refuses anything else with one line naming the file and the field,
before a value reaches code that would fail on it with a TypeError deep inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from sea.errors import CorruptFile

NONE = type(None)
NUMBER = (int, float)
_NAMES = {dict: "an object", list: "a list", str: "a string", int: "an integer",
          float: "a number", bool: "true or false", NONE: "null"}


class SchemaError(CorruptFile):
    """A JSON file whose values are not of the types its reader needs."""


@dataclass(frozen=True)
class Fields:
    """An object with these fields (each absent field is allowed unless `required`); `closed`
    refuses fields not listed."""

    fields: Mapping[str, Any]
    required: tuple[str, ...] = ()
    closed: bool = False
    container: type = field(default=dict, init=False)


@dataclass(frozen=True)
class MapOf:
    """An object whose every value has the type `value` (keys are strings in JSON)."""

    value: Any
    container: type = field(default=dict, init=False)


@dataclass(frozen=True)
class ListOf:
    """A list of `item`s, of exactly `length` items when given (a tuple too, as a config's
    `to_dict` holds before it is written as JSON)."""

    item: Any
    length: int | None = None
    container: tuple[type, ...] = field(default=(list, tuple), init=False)


def _name(spec: Any) -> str:
    if isinstance(spec, tuple):
        return " or ".join(dict.fromkeys(_name(s) for s in spec))
    if isinstance(spec, ListOf):
        return "a list" if spec.length is None else f"a list of {spec.length}"
    return _NAMES.get(getattr(spec, "container", spec), getattr(spec, "__name__", str(spec)))


def _is(value: Any, kind: type | tuple[type, ...]) -> bool:
    """isinstance, except that true/false is no number and an integer is a number."""
    if isinstance(value, bool):
        return kind is bool
    return isinstance(value, kind) or (kind is float and isinstance(value, int))


def _found(value: Any) -> str:
    return next((name for kind, name in _NAMES.items() if _is(value, kind)), type(value).__name__)


def check(value: Any, spec: Any, where: str, name: str = "") -> None:
    """Raise SchemaError naming `where` (the file) and the field unless `value` fits `spec`."""
    alternatives = spec if isinstance(spec, tuple) else (spec,)
    for alternative in alternatives:
        container = getattr(alternative, "container", None)
        if container is not None and _is(value, container):
            return _check_structure(value, alternative, where, name)
        if container is None and _is(value, alternative):
            return None
    label = f"field {name!r}" if name else "its content"
    raise SchemaError(f"{where}: {label} must be {_name(spec)}, not {_found(value)}")


def _check_structure(value: Any, spec: Fields | MapOf | ListOf, where: str, name: str) -> None:
    prefix = f"{name}." if name else ""
    if isinstance(spec, ListOf):
        if spec.length is not None and len(value) != spec.length:
            raise SchemaError(f"{where}: field {name!r} must be a list of {spec.length}, "
                              f"not of {len(value)}")
        for i, item in enumerate(value):
            check(item, spec.item, where, f"{name}[{i}]")
    elif isinstance(spec, MapOf):
        for key, item in value.items():
            check(item, spec.value, where, f"{prefix}{key}")
    else:
        missing = [key for key in spec.required if key not in value]
        if missing:
            raise SchemaError(f"{where}: field {prefix + missing[0]!r} is missing")
        unknown = sorted(set(value) - set(spec.fields)) if spec.closed else []
        if unknown:
            raise SchemaError(f"{where}: unknown field {prefix + unknown[0]!r}")
        for key, item_spec in spec.fields.items():
            if key in value:
                check(value[key], item_spec, where, f"{prefix}{key}")
