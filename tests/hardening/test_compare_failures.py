"""benchmarks/vs_original/compare.py: one path that fails (its export, its worker) becomes an
error row with the load; it never takes the other rows down."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compare():
    spec = importlib.util.spec_from_file_location(
        "vs_original_compare", REPO / "benchmarks" / "vs_original" / "compare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def worker(compare, tmp_path: Path, script: str):
    return compare.Worker("sea-torch", "openl3", 1, [sys.executable, "-c", script], {},
                          tmp_path / "real.npz")


def test_worker_that_dies_before_ready_is_an_error(compare, tmp_path):
    w = worker(compare, tmp_path, "import sys; sys.exit(3)")
    assert not w.wait_ready()
    assert w.error == "worker exited before it was ready (status 3)"
    assert len(w.loads) == 1


def test_worker_that_dies_in_a_round_is_an_error(compare, tmp_path):
    w = worker(compare, tmp_path, "print('ready', flush=True); input(); raise SystemExit(4)")
    assert w.wait_ready()
    assert w.run_once() is None
    assert w.error == "worker exited in round 0 (status 4)"


def test_failed_export_and_dead_worker_leave_the_other_rows(compare, tmp_path, monkeypatch):
    """compare_model with one export failing, one worker dying and one worker timing."""
    ok = ("import json, sys\nprint('ready', flush=True)\nfor line in sys.stdin:\n"
          "    if line.strip() == 'quit': break\n"
          "    print(json.dumps({'seconds': 0.5, 'windows': 5, 'cpu_seconds': 0.4}), flush=True)")
    np.savez(tmp_path / "real_ok.npz", np.ones((2, 3)))
    workers = [compare.Worker("original-keras", "openl3", 1, [sys.executable, "-c", ok], {},
                              tmp_path / "real_ok.npz"),
               worker(compare, tmp_path, "import sys; sys.exit(5)")]
    for w in workers:
        w.wait_ready()
    monkeypatch.setattr(compare, "prepare_audio", lambda *a: tmp_path / "audio.npz")
    monkeypatch.setattr(compare, "export_bundles", lambda *a: (
        {}, {"sea-tflite-int8": ("export failed: probes mean cosine 0.98988 < 0.99", "1 1 1")}))
    monkeypatch.setattr(compare, "start_workers", lambda *a: workers)
    args = argparse.Namespace(seconds=1, clips=1, clip_seconds=None, paths=[], rounds=2,
                              threads=[1])
    rows = {row["path"]: row for row in compare.compare_model(args, "openl3", tmp_path)}
    assert rows["original-keras"]["windows_per_second"] == 10.0
    assert rows["original-keras"]["cosine_min"] == pytest.approx(1.0)
    assert len(rows["original-keras"]["load_rounds"]) == 2
    assert rows["sea-torch"]["error"].startswith("worker exited before it was ready")
    assert rows["sea-tflite-int8"]["error"].startswith("export failed: probes mean cosine")
    assert all(len(row["load"].split()) == 3 for row in rows.values())
