"""The quickstart's headline numbers, read from each step's artifacts, with what produced them
(package versions, machine kind), and the closing summary printed from them."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pipeline.plan import NODE_VARIANT, STEPS
from sea.errors import printable
from sea.manifest import read_manifest
from training.r2_warning import low_r2_warning

VERSIONED = ("sea-embed", "torch", "numpy", "scipy", "scikit-learn", "threadpoolctl",
             "litert-torch", "ai-edge-litert", "soxr")


def headline(out: Path) -> dict[str, Any]:
    """Teacher, student, bundle, downstream scores and node output of the run in `out`."""
    teacher = read_manifest(out / "teacher")
    student = read_manifest(out / "student")
    epochs = len((out / "student" / "history.csv").read_text().splitlines()) - 1
    bundle = read_manifest(out / "bundle")
    parity = bundle["parity"][NODE_VARIANT]["real"]
    results = json.loads((out / "report" / "results.json").read_text())
    metric = results["protocol"]["metric"]
    scores = [{"model": m.get("name"), "kind": m.get("kind"), "method": key,
               "metric": metric, "mean": r["mean"][metric], "std": r["std"][metric]}
              for m in results["models"] for key, r in (m.get("methods") or {}).items()]
    node_lines = (out / "node" / "windows.jsonl").read_text().splitlines()
    return {
        "teacher": {"name": teacher["teacher"]["name"], "source": teacher["teacher"]["source"],
                    "dim": teacher["config"]["dim"]},
        "student": {"name": student["config"]["name"],
                    "dim": student["config"]["filters"][-1],
                    "best_epoch": student.get("best_epoch"), "epochs": epochs,
                    "val_r2": student.get("best_r2")},
        "bundle": {"file": bundle["variants"][NODE_VARIANT]["file"],
                   "quantization": bundle["quantization"],
                   "bytes": bundle["variants"][NODE_VARIANT]["size_bytes"],
                   "float32_bytes": bundle["sizes"]["float32_bytes"],
                   "cosine_vs_float_mean": parity["mean_cosine"],
                   "cosine_vs_float_min": parity["min_cosine"]},
        "downstream": {"protocol": results["protocol"]["name"],
                       "clips": results["store"]["clips"],
                       "classes": len(results["store"]["classes"]),
                       "folds": len(results["store"]["folds"]), "scores": scores,
                       "notes": results.get("notes", [])},
        "node": {"windows": len(node_lines)},
        "versions": versions(),
    }


def cpu_model() -> str:
    """The CPU's model name (Linux), else what `platform` knows: half of the machine kind."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions() -> dict[str, str]:
    """What produced the numbers: package versions, Python, and the machine kind (CPU model,
    the vector instructions torch uses, cores)."""
    import os
    import platform
    from importlib.metadata import PackageNotFoundError, version

    import torch

    found = {"python": platform.python_version(), "machine": platform.machine(),
             "cpu": cpu_model(), "torch-cpu-capability": torch.backends.cpu.get_cpu_capability(),
             "cpus": str(os.cpu_count())}
    for dist in VERSIONED:
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            found[dist] = "not installed"
    return found


def _number(x: float | None, fmt: str) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def summary_text(out: Path, state: dict[str, Any]) -> str:
    """The closing lines: where things are and the headline numbers."""
    h = state["headline"]
    t, st, b, d, n = h["teacher"], h["student"], h["bundle"], h["downstream"], h["node"]
    steps = ", ".join(f"{name} {state['steps'][name]['seconds']:.0f}s" for name, _ in STEPS)
    total = sum(state["steps"][name]["seconds"] for name, _ in STEPS)
    lines = [
        "=" * 78,
        f" SEA quickstart done: this run {state['last_run_seconds'] / 60:.1f} min; "
        f"steps when run: {steps} (total {total / 60:.1f} min)",
        "=" * 78,
        f"teacher      {t['name']} ({t['source']}), {t['dim']}-d",
        f"student      {st['name']} {st['dim']}-d, best epoch {st['best_epoch']} of "
        f"{st['epochs']}, validation R^2 {_number(st['val_r2'], '.3f')}",
        f"bundle       {out / 'bundle'} ({b['quantization']}): {b['file']} "
        f"{b['bytes'] / 1024:.0f} KiB (float32 weights {b['float32_bytes'] / 1024:.0f} KiB), "
        f"cosine vs float torch {b['cosine_vs_float_mean']:.5f} "
        f"(min {b['cosine_vs_float_min']:.5f})",
        f"downstream   {d['protocol']} protocol, {d['clips']} clips, {d['classes']} classes, "
        f"{d['folds']} folds:",
    ]
    warning = low_r2_warning(st["val_r2"])
    lines += [f"WARNING      {warning}"] if warning else []
    lines += [f"               {s['model']} {s['method']}: {s['metric']} "
              f"{s['mean']:.3f} +- {s['std']:.3f}" for s in d["scores"]]
    lines += [f"               note: {note}" for note in d["notes"]]
    lines += [
        f"report       {out / 'report' / 'index.html'} (report.md, results.json, plots/)",
        f"node output  {out / 'node' / 'windows.jsonl'} ({n['windows']} windows of "
        f"{out / 'node' / 'clip.wav'})",
        "versions     " + ", ".join(f"{k} {v}" for k, v in h.get("versions", {}).items()),
    ]
    return "\n".join(map(printable, lines))  # a path holding a newline stays on its line
