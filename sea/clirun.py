"""How `sea` and `sea-node` end: every failure is one line on stderr and a documented exit code.

`run_cli` wraps a CLI's whole life (parser construction, which imports the commands, and the
command itself). The traceback is printed only with -v, which is accepted anywhere on the
command line. The exit codes are the EXIT_* constants below (docs/errors.md).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
import traceback
from collections.abc import Callable

from sea import quiet
from sea.errors import BatchMemoryError, SeaError, first_line, printable
from sea.extras import install_hint


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser that never takes an abbreviation (`--clip 5` must not silently mean
    `--clips 5`); the subparsers it makes are of this class too (argparse's default)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

EXIT_OK = 0
EXIT_SOME_INPUTS_FAILED = 1  # the rest was processed; the failed inputs are listed
EXIT_USAGE = 2  # bad arguments, input or artifact (corrupt or missing file, parity missed, ...)
EXIT_MISSING_EXTRA = 3  # an optional dependency is not installed
EXIT_SYSTEM = 4  # the operating system refused: disk full, permission denied, I/O error
EXIT_INTERNAL = 70  # a bug (EX_SOFTWARE): please report it with the -v traceback
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_BROKEN_PIPE = 141  # the reader of stdout went away, as `| head` does (128 + SIGPIPE)

# OSErrors about a path the user named (a usage error), not about the system refusing.
PATH_ERRNOS = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ELOOP,
               errno.ENAMETOOLONG}
INTERRUPTED = "interrupted; re-run the same command to resume"
RESUME_HINT = "re-run the same command to resume"

log = logging.getLogger("sea")
_depth = 0  # run_cli calls in progress: `sea quickstart` runs `sea` steps through main()


def wants_verbose(argv: list[str]) -> bool:
    """-v/--verbose anywhere before `--`. Read before parsing because third-party noise must be
    silenced before the commands' modules (and through them torch, TensorFlow) are imported."""
    args = argv[:argv.index("--")] if "--" in argv else argv
    return any(a in ("-v", "--verbose") for a in args)


def add_verbose_flag(parser: argparse.ArgumentParser) -> None:
    """-v on the parser and on every (nested) subcommand, so both `sea -v embed` and
    `sea embed ... -v` work; subcommands use SUPPRESS so they never reset a top-level -v."""
    help_text = "debug logging, third-party warnings and tracebacks"
    parser.add_argument("-v", "--verbose", action="store_true", help=help_text)
    pending = [parser]
    while pending:
        for action in pending.pop()._actions:
            if isinstance(action, argparse._SubParsersAction):  # argparse has no public walk
                for sub in dict.fromkeys(action.choices.values()):
                    sub.add_argument("-v", "--verbose", action="store_true",
                                     default=argparse.SUPPRESS, help=help_text)
                    pending.append(sub)


def describe_os_error(exc: OSError) -> str:
    """One line for an OSError, naming the file and what the user can do."""
    where = " ".join(repr(str(f)) for f in (exc.filename, exc.filename2) if f)
    where = f" ({where})" if where else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full{where}: free some space, then {RESUME_HINT}"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied{where}: check the owner and mode of that path"
    if exc.errno == errno.EROFS:
        return f"read-only file system{where}: write the output somewhere else"
    if exc.errno == errno.ENOENT:
        return f"no such file or directory{where}"
    reason = exc.strerror or str(exc)
    return f"{reason}{where}" if exc.errno is None else f"{reason} [errno {exc.errno}]{where}"


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the interpreter's final flush is quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (a test's capture)
        pass
    finally:
        os.close(devnull)


def _fail(message: str, verbose: bool) -> None:
    if verbose:
        traceback.print_exc()
    log.error("%s", printable(message))  # a file name with a newline stays on one line


def run_cli(body: Callable[[], int], argv: list[str], program: str,
            command: str | None = None) -> int:
    """Run `body` (parse + dispatch) and turn any failure into one line and an exit code.

    `command` names the subcommand for the missing-extra message. Nested calls (a quickstart
    step) let failures other than SeaError reach the outermost call."""
    global _depth
    verbose = wants_verbose(argv)
    if _depth == 0:
        quiet.configure(verbose)
    _depth += 1
    try:
        code = int(body() or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except SeaError as exc:
        _fail(str(exc), verbose)
        return EXIT_USAGE
    except BaseException as exc:
        if _depth > 1:
            raise
        return _outermost_failure(exc, verbose, program, command)
    finally:
        _depth -= 1


def _outermost_failure(exc: BaseException, verbose: bool, program: str,
                       command: str | None) -> int:
    if isinstance(exc, SystemExit):  # argparse's usage errors (it printed them) and --help
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE if exc.code else EXIT_OK
    if isinstance(exc, KeyboardInterrupt):
        _fail(INTERRUPTED, verbose)
        return EXIT_INTERRUPTED
    if isinstance(exc, BrokenPipeError):
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        _fail(install_hint(exc.name, f"`{program} {command}`" if command else f"`{program}`"),
              verbose)
        return EXIT_MISSING_EXTRA
    if isinstance(exc, OSError):
        _fail(describe_os_error(exc), verbose)
        # errno None: raised by our code or a library with its own message about the input
        return EXIT_USAGE if exc.errno is None or exc.errno in PATH_ERRNOS else EXIT_SYSTEM
    if isinstance(exc, BatchMemoryError):  # raised only where a batch was being computed
        _fail(f"out of memory computing a batch ({exc}): use a smaller --batch-size, then "
              f"{RESUME_HINT}", verbose)
        return EXIT_SYSTEM
    if isinstance(exc, MemoryError):
        _fail(f"out of memory: {first_line(exc)} (re-run with -v to see which allocation; an "
              "input that declares huge sizes needs fixing, not more memory)", verbose)
        return EXIT_SYSTEM
    if not isinstance(exc, Exception):
        raise exc
    _fail(f"internal error: {type(exc).__name__}: {first_line(exc)} (re-run with -v for the "
          "traceback and please report it)", verbose)
    return EXIT_INTERNAL
