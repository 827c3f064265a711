"""Execute notebooks/walkthrough.ipynb top to bottom so it cannot rot.

The kernel is this interpreter (a kernel spec made in a temp dir), the working directory a
temp dir; every cell must run without error and the plots must be displayed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")
pytest.importorskip("torch")
pytest.importorskip("litert_torch")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "walkthrough.ipynb"
KERNEL = "sea-test"

pytestmark = pytest.mark.slow


@pytest.fixture
def kernel_of_this_python(tmp_path, monkeypatch) -> str:
    spec_dir = tmp_path / "jupyter" / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "sea (test)", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return KERNEL


def test_walkthrough_runs_and_shows_plots(tmp_path, kernel_of_this_python):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    work = tmp_path / "run"
    work.mkdir()
    client = nbclient.NotebookClient(nb, kernel_name=kernel_of_this_python, timeout=600,
                                     resources={"metadata": {"path": str(work)}})
    client.execute()
    cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    images = [sum("image/png" in out.get("data", {}) for out in cell.get("outputs", []))
              for cell in cells]
    # spectrogram, PCA variance, losses, 4 report figures, and the node's output, last
    assert sum(images) >= 8 and images[-1] == 1
    for rel in ("store/manifest.json", "student/history.csv", "report/results.json",
                "bundle/manifest.json", "node/windows.jsonl"):
        assert (work / "sea-walkthrough" / rel).is_file(), rel
