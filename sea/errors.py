"""User-facing errors: the CLI prints their message (no traceback) and exits with status 2."""


class SeaError(Exception):
    """Base of errors caused by input, configuration or environment, not by a bug."""
