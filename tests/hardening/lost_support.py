"""Helpers of the hardening tests: generated audio, the CLI, fault injection at write boundaries."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

STORE_RATE = 16000
TEACHER_FILTERS = (4, 8, 8, 8)


def tone(seconds: float, freq: float, sr: int = STORE_RATE, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_wavs(folder: Path, count: int, seconds: float = 1.5, sr: int = STORE_RATE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        sf.write(folder / f"clip{i}.wav", tone(seconds, 220.0 * (i + 1), sr), sr)
    return folder


def sea(*argv) -> int:
    from sea.cli import main

    return main([str(a) for a in argv])


class Crash(BaseException):
    """A simulated kill: not an Exception, so no `except Exception` handler swallows it."""


@contextlib.contextmanager
def crash_after(writes: int, also: tuple[tuple[object, str], ...] = ()):
    """Let `writes` write boundaries happen, then raise Crash at the next one.

    Boundaries are every `os.replace` (the commit of each atomic file or directory write) and
    every `os.write` (the clip store's index lines), plus the `(object, attribute)` callables
    in `also`. Yields a counter dict; `counter["crashed"]` says whether the crash happened.
    """
    import sea.output

    counter = {"calls": 0, "crashed": False}
    patched = [(os, "replace"), (os, "write"), *also]
    originals = [getattr(obj, name) for obj, name in patched]

    def wrap(real):
        def boundary(*args, **kwargs):
            if counter["calls"] >= writes:
                counter["crashed"] = True
                raise Crash(f"simulated kill at write boundary {writes}")
            counter["calls"] += 1
            return real(*args, **kwargs)
        return boundary

    for (obj, name), real in zip(patched, originals):
        setattr(obj, name, wrap(real))
    try:
        yield counter
    except Crash:
        pass
    finally:
        for (obj, name), real in zip(patched, originals):
            setattr(obj, name, real)
        sea.output._HELD.clear()  # a killed process's locks vanish with it


def every_boundary(out: Path, run, compare, limit: int = 200) -> int:
    """Kill `run()` at write boundary 0, 1, 2, ...; after each kill re-run it unpatched and
    `compare()` the result with the uninterrupted one. Returns the number of boundaries."""
    for n in range(limit):
        shutil.rmtree(out, ignore_errors=True)
        with crash_after(n) as counter:
            run()
        if not counter["crashed"]:
            compare()
            return n
        run()
        compare()
    raise AssertionError(f"more than {limit} write boundaries")
