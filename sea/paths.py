"""Confining paths read from untrusted text (dataset metadata, artifact manifests) to a root.

A clip store, bundle or dataset copied from another machine may name any path in its CSV rows
or manifest. `confined` is the one gate every such name passes: it refuses absolute paths,
`..` components and names whose real path (symlinks followed) leaves the root, so a crafted
row can neither read `/etc/passwd` nor a file beside the dataset.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath

from sea.errors import SeaError


class UnsafePath(SeaError, ValueError):
    """A name from metadata or a manifest that would lead outside its root."""


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def relative_parts(root: str | Path, name: str | Path, what: str = "path") -> tuple[str, ...]:
    """The components of `name` (separator / or \\), refusing empty names, NUL bytes,
    absolute paths and `..`: the checks that need no file system."""
    text = os.fspath(name)
    if not text or "\0" in text:
        raise UnsafePath(f"{what} {text!r} is empty or holds a NUL byte")
    parts = PurePosixPath(text.replace("\\", "/"))
    if parts.is_absolute() or PureWindowsPath(text).drive or PureWindowsPath(text).root:
        raise UnsafePath(f"{what} {text!r} is an absolute path; only names inside {root} "
                         "are accepted")
    if ".." in parts.parts:
        raise UnsafePath(f"{what} {text!r} climbs out with '..'; only names inside {root} "
                         "are accepted")
    return parts.parts


def link_out_of(root: str | Path, path: str | Path) -> str | None:
    """None when `path` (a name under `root`) really is inside `root` with symlinks followed,
    else the reason it is not: the one link rule of manifests, dataset rows and folder walks."""
    real = os.path.realpath(path)
    if _inside(real, os.path.realpath(root)):
        return None
    return f"symbolic link leading outside {root} (to {real})"


def confined(root: str | Path, name: str | Path, what: str = "path") -> Path:
    """`root / name` when it stays inside `root` (also after resolving symlinks), else raise
    UnsafePath naming `what` and the reason."""
    path = Path(root, *relative_parts(root, name, what))
    reason = link_out_of(root, path)
    if reason:
        raise UnsafePath(f"{what} {os.fspath(name)!r} is a {reason}")
    return path
