"""Finding input files: a recursive walk that reports what it cannot read instead of dropping it.

Unreadable directories, dangling links, link loops and special files are returned as
(path, reason) problems, which every caller logs and records, never silently leaves out.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import soundfile as sf

from sea.paths import link_out_of

# Extensions libsndfile decodes (soundfile.available_formats) plus common aliases.
AUDIO_EXTENSIONS = frozenset(
    {"." + fmt.lower() for fmt in sf.available_formats()} | {".aif", ".oga", ".opus", ".mp3"}
)
Problem = tuple[str, str]  # (path, reason)


def _link_problem(path: str) -> str:
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        if exc.errno == errno.ENOENT:
            return f"dangling symbolic link (to {os.readlink(path)})"
        return f"cannot read: {exc.strerror}"
    return "not a regular file"


def walk_files(root: str | Path, skip_hidden: bool = False,
               confine: bool = False) -> tuple[list[Path], list[Problem]]:
    """(regular files under `root`, sorted; problems). Directory links are followed, each
    directory visited once, so a link loop is a reported problem, not an endless walk.
    With `confine` (data sources), a file or directory link leading out of `root` is a
    problem, by the rule dataset rows follow (sea.paths.link_out_of), and is not read."""
    files: list[Path] = []
    problems: list[Problem] = []
    visited: set[tuple[int, int]] = set()

    def visit(directory: str) -> None:
        try:
            st = os.stat(directory)
            if (st.st_dev, st.st_ino) in visited:
                problems.append((directory, "directory reached twice through links (loop)"))
                return
            visited.add((st.st_dev, st.st_ino))
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            problems.append((directory, f"cannot read directory: {exc.strerror or exc}"))
            return
        for entry in entries:
            if skip_hidden and entry.name.startswith("."):
                continue
            outside = confine and entry.is_symlink() and link_out_of(root, entry.path)
            if outside:
                problems.append((entry.path, outside))
                continue
            try:
                if entry.is_dir():
                    visit(entry.path)
                    continue
                if entry.is_file():
                    files.append(Path(entry.path))
                    continue
            except OSError:
                pass  # e.g. ELOOP from a link to itself: _link_problem says which
            problems.append((entry.path, _link_problem(entry.path)))

    visit(str(root))
    return sorted(files), problems


def find_audio_files(inputs: list[str | Path]) -> tuple[list[Path], list[Problem]]:
    """(audio files in sorted order, problems). Explicit files are always kept, whatever
    their extension, so that a bad file is reported instead of ignored; inputs that do not
    exist and what a directory walk cannot read are problems with their reason."""
    files: list[Path] = []
    problems: list[Problem] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found, trouble = walk_files(item)
            files += [p for p in found if p.suffix.lower() in AUDIO_EXTENSIONS]
            problems += trouble
        elif item.is_file():
            files.append(item)
        elif item.is_symlink():
            problems.append((str(item), _link_problem(str(item))))
        else:
            problems.append((str(item), "no such file or directory"))
    unique = list(dict.fromkeys(files))
    return unique, problems
