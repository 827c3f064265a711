"""The documentation site builds with `mkdocs build --strict` (a broken link, a page missing
from the nav's files, or an API reference entry that no longer imports fails the build).
Skips cleanly where the `dev` extra's MkDocs packages are not installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_mkdocs_build_strict(tmp_path):
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        pytest.importorskip(module, reason="the docs site needs the dev extra (mkdocs)")
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                            "-f", str(REPO / "mkdocs.yml"), "-d", str(tmp_path / "site")],
                           cwd=REPO, capture_output=True, text=True, timeout=300,
                           env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})  # a banner, not a finding
    assert build.returncode == 0, build.stderr[-4000:]
    assert (tmp_path / "site" / "index.html").is_file()
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    assert "get_audio_embedding" in api and "load_audio_embedding_model" in api  # sea's, openl3's
