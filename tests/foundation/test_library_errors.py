"""Library errors name parameters, not command-line flags: a Python caller of `Distiller` or
`embed_store` has no `--base-hop` to change. Only the CLI layer (command modules, the parsers)
speaks in flags."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("sea", "data_prep", "training", "deploy", "pipeline")
# The CLI layer: where a setting's name becomes a flag.
CLI_MODULES = {"sea/cli.py", "sea/clirun.py", "sea/settings_cli.py", "deploy/node/cli.py"}
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "warn"}


def library_modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py")
                  if "commands" not in p.relative_to(ROOT).parts
                  and p.relative_to(ROOT).as_posix() not in CLI_MODULES)


def _texts(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def messages(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of every string in a raise statement or a logging/warnings call."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            found += [(node.lineno, t) for t in _texts(node.exc)]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in LOG_METHODS):
            found += [(node.lineno, t) for arg in node.args for t in _texts(arg)]
    return sorted(found)


def test_the_scan_sees_flags_in_raises_and_logs():
    tree = ast.parse('def f():\n    log.error("use --lr 1")\n    raise ValueError(f"{x} --base-hop")\n'
                     '    raise ValueError("lr must be positive; a-b--c and -- alone are fine")\n')
    assert [line for line, text in messages(tree) if FLAG.search(text)] == [2, 3]


def test_library_errors_name_parameters_not_flags():
    offenders = [f"{path.relative_to(ROOT)}:{line}: {text!r}"
                 for path in library_modules()
                 for line, text in messages(ast.parse(path.read_text(), str(path)))
                 if FLAG.search(text)]
    assert not offenders, "library messages that name a CLI flag:\n" + "\n".join(offenders)
