"""One switch for third-party noise on stderr: quiet unless -v, so a success looks like one.

Converter and runtime libraries print warnings that are not the user's concern (FutureWarnings
from torch's exporter, torchao's missing optional kernels, absl/TensorFlow C++ logs, the TFLite
"Created XNNPACK delegate" line). `configure(verbose)` is called by the CLIs before anything
heavy is imported; it sets the native libraries' log levels through their environment
variables, filters Python warnings and log records that do not come from this project, and
`native_stderr_silenced()` hides what C++ code writes straight to file descriptor 2 (replayed
when the guarded call fails, so a real error is never hidden).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator

from sea.errors import printable

# Top-level packages of this project: their warnings and INFO logs are always shown.
OWN_PACKAGES = ("sea", "training", "deploy", "data_prep", "__main__")
OWN_MODULES = r"(sea|training|deploy|data_prep|__main__)(\.|$)"
# Read by the native libraries when they are first loaded; a user's own setting wins.
QUIET_ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow/LiteRT converter C++ logs (absl, oneDNN notes)
    "GLOG_minloglevel": "2",  # glog-based native code
    "TORCH_LOGS": "-all",  # torch._logging's own handler: errors only
    "TORCH_CPP_LOG_LEVEL": "ERROR",  # c10 C++ warnings
}
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"

_verbose = True  # until configure() runs (library use), nothing is hidden


class _ProjectFirst(logging.Filter):
    """Our records from INFO (DEBUG with -v); third-party ones only from ERROR (WARNING)."""

    def __init__(self, verbose: bool):
        super().__init__()
        self.own_level = logging.DEBUG if verbose else logging.INFO
        self.other_level = logging.WARNING if verbose else logging.ERROR

    def filter(self, record: logging.LogRecord) -> bool:
        own = record.name.split(".")[0] in OWN_PACKAGES or record.name == "root"
        return record.levelno >= (self.own_level if own else self.other_level)


class _OneLineFormatter(logging.Formatter):
    """Every record on one line: control characters in a message (a file name holding a
    newline or a terminal escape) are escaped; a -v traceback keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(record.message)
        return super().formatMessage(record)


class _ProjectHandler(logging.StreamHandler):
    """Marks the handler the CLI installed, so configuring again replaces it."""


def configure(verbose: bool) -> None:
    """Set up logging and third-party noise filtering for a CLI run."""
    global _verbose
    _verbose = verbose
    if not verbose:
        for name, value in QUIET_ENVIRONMENT.items():
            os.environ.setdefault(name, value)
        warnings.filterwarnings("ignore")
        warnings.filterwarnings("default", module=OWN_MODULES)
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, _ProjectHandler)]
    if root.handlers and not ours:
        return  # someone else (a test harness, an application) owns logging
    for handler in ours:
        root.removeHandler(handler)
    handler = _ProjectHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter(LOG_FORMAT))
    handler.addFilter(_ProjectFirst(verbose))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Hide what native code writes to fd 2 inside the block (no-op with -v or as a library).

    The output goes to a temporary file that is copied to stderr if the block raises."""
    if _verbose:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            os.write(2, sink.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
