"""argparse `type=` functions shared by every command: values are checked when parsed, so a
bad value is a usage error naming the option (exit 2) before any work starts."""

from __future__ import annotations

import argparse
import logging
import math
import os
import re

log = logging.getLogger("sea.args")

# Sample rates a store or model may use: below 8 kHz there is no urban-sound content to model
# (the SEA students run at 8 kHz); 192 kHz is the highest rate audio interfaces record.
MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 192000


def _number(text: str, kind: type) -> float | int:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (batch sizes, epochs, counts)."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def finite_float(text: str) -> float:
    """Any finite number (levels and offsets in dB)."""
    return _number(text, float)


def positive_float(text: str) -> float:
    """A finite number > 0 (learning rates, budgets)."""
    value = _number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


# Adam moves every weight by up to the learning rate per step: beyond 1 training only diverges
# (and near float32's range the step itself overflows).
MAX_LEARNING_RATE = 1.0


def learning_rate(text: str) -> float:
    """A learning rate in (0, MAX_LEARNING_RATE]."""
    value = _number(text, float)
    if not 0 < value <= MAX_LEARNING_RATE:
        raise argparse.ArgumentTypeError(
            f"must be in (0, {MAX_LEARNING_RATE:g}] (Adam moves each weight by up to this much "
            f"per step), got {text}")
    return value


def seconds(text: str) -> float:
    """A duration or hop in seconds: finite and > 0."""
    value = _number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def available_cpus() -> int:
    """CPUs this process may run on (the affinity mask, e.g. a container's share)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _capped_to_cpus(text: str, what: str) -> int:
    value = positive_int(text)
    cpus = available_cpus()
    if value > cpus:
        log.info("note: %d %s requested, this machine has %d CPUs: using %d",
                 value, what, cpus, cpus)
        return cpus
    return value


def threads(text: str) -> int:
    """A thread count >= 1, capped to the CPUs available (with a note)."""
    return _capped_to_cpus(text, "threads")


def workers(text: str) -> int:
    """A worker-process count >= 1, capped to the CPUs available (with a note)."""
    return _capped_to_cpus(text, "workers")


def regex(text: str) -> str:
    """A regular expression that compiles (returned as text, compiled where it is used)."""
    try:
        re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"invalid regular expression {text!r}: {exc}") from None
    return text


def file_name_part(text: str) -> str:
    """Text that becomes part of a file name (an output suffix): no directory separators or
    NUL, so the file cannot land outside its output directory."""
    separators = {os.sep, os.altsep or os.sep, "/", "\0"}
    if any(s in text for s in separators):
        raise argparse.ArgumentTypeError(
            f"{text!r} would leave the output directory: use no '/' or NUL")
    return text


def sample_rate(text: str) -> int:
    """A sample rate in Hz within [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE]."""
    value = _number(text, int)
    if not MIN_SAMPLE_RATE <= value <= MAX_SAMPLE_RATE:
        raise argparse.ArgumentTypeError(
            f"{value} Hz is outside {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz")
    return value


def cosine_bound(text: str) -> float:
    """A cosine similarity bound: a number in [-1, 1]."""
    value = _number(text, float)
    if not -1 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a cosine in [-1, 1], got {text}")
    return value
