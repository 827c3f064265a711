""".npy/.npz files from outside, read only after their headers were checked.

`np.load` allocates what a file's header declares before reading a byte of data, so a 510 KB
zip of compressed zeros grows to hundreds of MB before any error. Every array file sea reads
(bundle frontends and heads, reducers, targets, embedding shards, caches) goes through
`read_npz`/`read_npy` instead: each member's header (shape, dtype) is read first and must
(1) describe plain numbers or text (no objects: nothing is unpickled), (2) account exactly for
the member's size as its container records it (the zip's uncompressed size, which zipfile
enforces while inflating; the file size for .npy), (3) match the shape the caller expects,
and (4) keep the total below a bound, all before anything is allocated.
"""

from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path
from typing import BinaryIO, Iterable, Mapping

import numpy as np
from numpy.lib import format as npformat

from sea.errors import CorruptFile, reading

# What a small parameter file (frontend, head, reducer, scale) may hold in memory at most;
# callers reading large data (targets, caches) pass their own bound.
DEFAULT_MAX_BYTES = 256 << 20
_KINDS = "biufcSU"  # bool, integers, floats, complex, bytes, text: never objects or records
Shape = tuple[int | None, ...]  # None: any length along that axis


class ArrayFileError(CorruptFile):
    """An array file whose header is implausible, inconsistent or not what was expected."""


def _header(fp: BinaryIO, label: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, header bytes) of the .npy stream at `fp`'s start."""
    version = npformat.read_magic(fp)
    if version == (1, 0):
        shape, _, dtype = npformat.read_array_header_1_0(fp)
    elif version == (2, 0):
        shape, _, dtype = npformat.read_array_header_2_0(fp)
    else:
        raise ArrayFileError(f"{label}: .npy format version {version} is not read by sea")
    if dtype.hasobject or dtype.kind not in _KINDS or dtype.fields is not None:
        raise ArrayFileError(f"{label}: holds {dtype} values (Python objects or records, "
                             "which sea never unpickles), not plain numbers or text")
    return tuple(shape), dtype, fp.tell()


def _check(label: str, shape: tuple[int, ...], dtype: np.dtype, header: int, stored: int,
           expected: Shape | None) -> int:
    """The declared data size, after checking it against the stored size and `expected`."""
    declared = math.prod(shape) * dtype.itemsize
    if header + declared != stored:
        raise ArrayFileError(f"{label}: header declares {shape} {dtype} ({declared:,} bytes) "
                             f"but {stored - header:,} bytes are stored: damaged or forged")
    if expected is not None and (len(shape) != len(expected) or any(
            want is not None and got != want for got, want in zip(shape, expected))):
        wanted = tuple("any" if n is None else n for n in expected)
        raise ArrayFileError(f"{label}: has shape {shape}, expected {wanted}")
    return declared


def _too_big(label: str, total: int, max_bytes: int) -> ArrayFileError:
    return ArrayFileError(f"{label}: brings the file's arrays to {total:,} bytes, more than "
                          f"the {max_bytes:,} accepted for it (damaged, forged or a zip bomb)")


def read_npz(path: str | Path, what: str, shapes: Mapping[str, Shape | None] | None = None,
             required: Iterable[str] = (), keys: Iterable[str] | None = None,
             max_bytes: int | None = DEFAULT_MAX_BYTES) -> dict[str, np.ndarray]:
    """The arrays of an .npz as a dict, read only after every header passed the checks.

    `shapes`: the expected shape of some arrays; `required`: names that must be present;
    `keys`: read only these names (default: all); `max_bytes`: bound on the arrays read,
    None for the file's own size (caches sea writes uncompressed: no member inflates)."""
    path = Path(path)
    if max_bytes is None:
        max_bytes = path.stat().st_size
    with reading(path, what), zipfile.ZipFile(path) as archive:
        members = {info.filename[:-4]: info for info in archive.infolist()
                   if info.filename.endswith(".npy")}
        missing = sorted(set(required) - set(members))
        if missing:
            raise ArrayFileError(f"{path}: not a readable {what}: lacks {', '.join(missing)}")
        wanted = [k for k in (members if keys is None else keys) if k in members]
        total = 0
        for name in wanted:
            label = f"{path}: not a readable {what}: {name}"
            info = members[name]
            with archive.open(info) as fp:
                shape, dtype, header = _header(fp, label)
            total += _check(label, shape, dtype, header, info.file_size,
                            (shapes or {}).get(name))
            if total > max_bytes:
                raise _too_big(label, total, max_bytes)
        arrays = {}
        for name in wanted:
            with archive.open(members[name]) as fp:
                arrays[name] = npformat.read_array(fp, allow_pickle=False)
        return arrays


def read_npy(path: str | Path, what: str, shape: Shape | None = None,
             dtype: str | np.dtype | None = None, mmap: bool = False,
             max_bytes: int = DEFAULT_MAX_BYTES) -> np.ndarray:
    """An .npy array (memory-mapped read-only with `mmap`: then `max_bytes` does not apply,
    nothing is allocated) after its header passed the checks and, if given, is of `dtype`."""
    path = Path(path)
    label = f"{path}: not a readable {what}"
    with reading(path, what):
        with open(path, "rb") as fp:
            found, found_dtype, header = _header(fp, label)
            declared = _check(label, found, found_dtype, header, os.fstat(fp.fileno()).st_size,
                              shape)
        if dtype is not None and found_dtype != np.dtype(dtype):
            raise ArrayFileError(f"{label}: holds {found_dtype} values, expected "
                                 f"{np.dtype(dtype)}")
        if not mmap and declared > max_bytes:
            raise _too_big(label, declared, max_bytes)
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
