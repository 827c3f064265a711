"""Helpers of the tests/hardening/test_failures_*.py suite: run a CLI, judge how it failed."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def cli(program: str, *args: str, timeout: float = 240, **kwargs) -> subprocess.CompletedProcess:
    """Run `sea` (program "sea") or `sea-node` ("node") as a user would, in a subprocess."""
    module = {"sea": "sea.cli", "node": "deploy.node.cli"}[program]
    env = {**os.environ, "PYTHONPATH": str(REPO), **kwargs.pop("env", {})}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=kwargs.pop("cwd", REPO),
                          capture_output=True, text=True, timeout=timeout, env=env, **kwargs)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("ERROR")]


def assert_one_line_failure(result: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    """Exit `code`, no traceback, exactly one ERROR line on stderr containing every needle."""
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def deploy_fixtures():
    """tests/deploy/conftest.py as a module: its tiny student checkpoint and clip store writers
    (loaded by path; every conftest is named `conftest`, so it cannot simply be imported)."""
    spec = importlib.util.spec_from_file_location("deploy_fixtures",
                                                  REPO / "tests" / "deploy" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_tone(path: Path, seconds: float = 2.0, rate: int = 8000) -> Path:
    import soundfile as sf

    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate)
    return path
