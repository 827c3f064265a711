"""Putting a file on disk without destroying anything: the one way sea writes a final file.

- `atomic_output(path)` (an open file), `atomic_path(path)` (a path, for writers that open
  it themselves, like numpy's memmap) and `atomic_directory(path)`: the content goes to a temporary file created exclusively
  (O_CREAT|O_EXCL, which never follows a link planted at that name) under a unique name in the
  target's directory, is fsynced and renamed over the target. A failure (disk full, a kill)
  leaves the target as it was; an existing device, FIFO or directory is never replaced.
- `refuse_unsafe_output(out, inputs)`: an output file that is an input, lies inside an input
  directory, or is not a regular file is refused before anything is read.
- `open_regular(path, ...)`, `open_lock_file(path)`: a file sea keeps (a lock, a ledger) is
  opened without following a link.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import IO, Iterable, Iterator

from sea.errors import SeaError

TEMPORARY_SUFFIX = ".tmp"


class OutputError(SeaError, ValueError):
    """An output that cannot be written without losing or mixing something."""


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (os.umask sets it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Mode of a new regular file under the user's umask (0644 under umask 022)."""
    return 0o666 & ~current_umask()


def directory_mode() -> int:
    """Mode of a new directory under the user's umask (0755 under umask 022)."""
    return 0o777 & ~current_umask()


def temporary_prefix(name: str) -> str:
    """Temporary files for `name` are `.NAME.<random>.tmp`: hidden, and recognisable as sea's."""
    return f".{name}."


def fsync_directory(path: str | Path) -> None:
    """Make a rename inside `path` durable (a power cut must not undo the commit)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _kind_of(mode: int) -> str | None:
    """What a non-regular file is, for messages; None for a regular file or a link."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return None


def check_replaceable(path: Path, follow: bool = False) -> None:
    """Refuse a target that exists and is not a regular file (or, unless `follow`, a link,
    which a rename replaces without touching what it points at)."""
    try:
        mode = (os.stat if follow else os.lstat)(path).st_mode
    except FileNotFoundError:
        return
    what = _kind_of(mode)
    if what is not None:
        raise OutputError(f"output {path} is {what}, not a regular file; choose a file name "
                          "(or - for standard output)")


def _contains(outer: Path, inner: Path) -> bool:
    return inner == outer or outer in inner.parents


def check_not_an_input(out: str | Path, inputs: Iterable[str | Path]) -> None:
    """Refuse an output that is, lies inside, or contains one of the inputs: where it points
    (links followed) and where its own name is (what a rename replaces)."""
    out = Path(out)
    targets = {out.resolve(), out.parent.resolve() / out.name}
    for item in inputs:
        source = Path(item).resolve()
        if any(_contains(source, t) or _contains(t, source) for t in targets):
            raise OutputError(f"output {out} overlaps the input {item}: writing there would "
                              "change or destroy what is being read; choose another output")


def refuse_unsafe_output(out: str | Path, inputs: Iterable[str | Path] = ()) -> None:
    """Check an output file before a run starts: `-` (standard output) always passes; a path
    must not be an input or inside an input directory, nor a device, FIFO or directory."""
    if str(out) == "-":
        return
    check_replaceable(Path(out), follow=True)
    check_not_an_input(out, inputs)


@contextlib.contextmanager
def atomic_path(path: str | Path, permissions: int | None = None) -> Iterator[Path]:
    """Yield the path of an empty temporary file beside `path`, created exclusively; when the
    block ends normally it is fsynced and renamed to `path`, otherwise removed. `permissions`
    (default: what the umask gives a new file) are the file's mode bits."""
    target = Path(path)
    check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=temporary_prefix(target.name),
                                suffix=TEMPORARY_SUFFIX)
    tmp = Path(name)
    try:
        try:
            # mkstemp makes it 0600: outputs are meant to be shared
            os.fchmod(fd, file_mode() if permissions is None else permissions)
        finally:
            os.close(fd)
        yield tmp
        _commit(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_output(path: str | Path, mode: str = "w", encoding: str | None = "utf-8",
                  permissions: int | None = None) -> Iterator[IO]:
    """An open file (`mode` "w" or "wb") whose content replaces `path` only when the block ends
    normally; see `atomic_path`."""
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    with atomic_path(path, permissions) as tmp:
        flags = os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC
        with open(os.open(tmp, flags), mode, encoding=None if "b" in mode else encoding) as f:
            yield f


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a new empty directory beside `path` (a unique name, created exclusively); when the
    block ends normally it replaces `path` (a directory there is removed first), otherwise it
    is removed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=temporary_prefix(target.name),
                                 suffix=TEMPORARY_SUFFIX))
    try:
        yield work
        work.chmod(directory_mode())  # mkdtemp makes it private; outputs are meant to be shared
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(work, target)
        fsync_directory(target.parent)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # nothing left after the rename


def _commit(tmp: Path, target: Path) -> None:
    fd = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    check_replaceable(target)  # again: it may have appeared while the content was written
    os.replace(tmp, target)
    fsync_directory(target.parent)


def open_regular(path: str | Path, flags: int, mode: str, what: str) -> IO:
    """Open a regular file that sea keeps (a lock, a ledger) with `flags` (os.O_*; O_CREAT
    creates it) and the file `mode` ("r+", "a", "r+b", ...), never following a link: a link,
    device, FIFO or directory there is refused with one line naming `what` the file is."""
    path = Path(path)
    flags |= os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # NONBLOCK: a FIFO never blocks
    try:
        fd = os.open(path, flags, file_mode())
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputError(f"{path} is a symbolic link: {what} is never opened through a "
                              "link (it would change the link's target); remove it") from None
        if exc.errno == errno.EISDIR:
            raise OutputError(f"{path} is a directory, not {what}; remove it") from None
        raise
    kind = _kind_of(os.fstat(fd).st_mode)
    if kind is not None:
        os.close(fd)
        raise OutputError(f"{path} is {kind}, not {what}; remove it")
    os.set_blocking(fd, True)
    return open(fd, mode, encoding=None if "b" in mode else "utf-8")


def open_lock_file(path: str | Path) -> IO[str]:
    """Open (creating) a lock file for reading and writing without following a link."""
    return open_regular(path, os.O_RDWR | os.O_CREAT, "r+", "a lock file")


def read_regular_text(path: str | Path) -> str | None:
    """The text of a regular file, read without following a link; None for a link, anything
    that is not a regular file (a FIFO would block) or a file that cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with open(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        try:
            return f.read().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None
