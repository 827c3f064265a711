"""User-facing errors: the CLI prints their message (no traceback) and exits with status 2."""

from __future__ import annotations

import contextlib
import errno
import pickle
import zipfile
from collections.abc import Iterator
from pathlib import Path


class SeaError(Exception):
    """Base of errors caused by input, configuration or environment, not by a bug."""


class InvalidArgument(SeaError, ValueError):
    """A function argument of the wrong type or out of range; the message names the parameter."""


class SeaWarning(UserWarning):
    """Input that works but probably not as meant (audio shorter than a window, all zeros).
    Filter or escalate it with the `warnings` module, as openl3 users do with OpenL3Warning."""


class CorruptFile(SeaError, ValueError):
    """A file that exists but cannot be decoded (truncated, damaged, or of another format)."""


# What decoders raise on damaged input: json (ValueError), numpy/zipfile (ValueError, EOFError,
# BadZipFile, KeyError), h5py (OSError without an errno), TFLite (ValueError, RuntimeError),
# torch.load(weights_only=True) (UnpicklingError, RuntimeError).
_DECODE_ERRORS = (ValueError, EOFError, KeyError, zipfile.BadZipFile, RuntimeError,
                  UnicodeDecodeError, pickle.UnpicklingError)
# OSErrors that are about the file system, not the content: never reported as corruption.
_SYSTEM_ERRNOS = {errno.ENOENT, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EROFS, errno.EIO,
                  errno.EISDIR, errno.ENOTDIR, errno.ELOOP}


class BatchMemoryError(MemoryError):
    """Memory ran out while computing one batch: a smaller batch is the remedy (only then does
    the CLI advise a smaller --batch-size)."""


@contextlib.contextmanager
def batch_allocation(batch_size: int) -> Iterator[None]:
    """Mark a MemoryError raised inside the block (one batch's work) as a BatchMemoryError."""
    try:
        yield
    except BatchMemoryError:
        raise
    except MemoryError as exc:
        raise BatchMemoryError(f"{first_line(exc)} (batch of {batch_size})") from exc


def printable(text: object) -> str:
    """`text` with control characters (newline, escape sequences, ...) escaped as Python would
    write them: a file name from elsewhere cannot break a one-line message or drive the
    terminal."""
    text = str(text)
    if all(ch.isprintable() for ch in text):
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


@contextlib.contextmanager
def reading(path: str | Path, what: str) -> Iterator[None]:
    """Turn a decoder's failure inside the block into a one-line CorruptFile naming `path`."""
    try:
        yield
    except SeaError:
        raise
    except OSError as exc:
        if exc.errno in _SYSTEM_ERRNOS:
            raise
        raise CorruptFile(f"{path}: not a readable {what} ({first_line(exc)})") from exc
    except _DECODE_ERRORS as exc:
        raise CorruptFile(f"{path}: not a readable {what} ({first_line(exc)})") from exc


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
