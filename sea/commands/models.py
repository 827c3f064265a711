"""List the named model configs: embedding size, input shape, parameters, size, activations.

Parameters are the conv body's trainable parameters (the SEA paper's Table 1 count); size is
float32 bytes of every stored number (BatchNorm statistics included); activation memory is the largest single activation tensor for one
window (the SEA paper's Table 1 metric). The weights column says `shipped` for the
published weights inside this package, `present` for published weights found on this machine
(`published`: would be downloaded); the lines after the table say
where weights are looked for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sea.configs import MODEL_CONFIGS, activation_bytes, count_parameters
from sea.settings import Settings, setting
from sea.settings_cli import Command
from sea.weights import (BUNDLED_DIR, WEIGHT_SOURCES, bundled_path, find_local,
                         local_candidates, weights_dir)


@dataclass(frozen=True, kw_only=True)
class ModelsSettings(Settings):
    json: bool = setting(False, help="print a JSON list instead of a table")


def describe_models() -> list[dict]:
    rows = []
    for name, cfg in MODEL_CONFIGS.items():
        rows.append({
            "name": name,
            "family": cfg.family,
            "embedding_dim": cfg.embedding_dim,
            "sample_rate": cfg.frontend.sample_rate,
            "input_shape": list(cfg.input_shape),
            "filters": list(cfg.filters),
            "params": count_parameters(cfg, trainable_only=True),
            "size_mb": round(count_parameters(cfg) * 4 / 1e6, 2),
            "activation_mb": round(activation_bytes(cfg) / 1e6, 2),
            "pretrained": name in WEIGHT_SOURCES,
            "weights_path": _local_path(name),
            "description": cfg.description,
        })
    return rows


def _local_path(name: str) -> str | None:
    path = (find_local(name) or bundled_path(name)) if name in WEIGHT_SOURCES else None
    return None if path is None else str(path)


def weights_lookup_text() -> str:
    """Where published weights are looked for, in order, and what is there now."""
    dirs = sorted({str(p.parent) for n in WEIGHT_SOURCES for p in local_candidates(n)})
    present = sorted({_local_path(n) for n in WEIGHT_SOURCES} - {None})
    lines = ["", "Weights are looked for in this order: --weights PATH; "
             f"{weights_dir()} ($SEA_HOME/weights);",
             "the package directory of an installed openl3 / edgel3; the weights shipped "
             f"with sea ({BUNDLED_DIR}); then downloaded",
             "(sea download weights NAME... fetches them ahead of time).",
             "Searched here: " + ", ".join(dirs)]
    lines.append("Present: " + (", ".join(present) if present else "none"))
    return "\n".join(lines)


def run(settings: ModelsSettings) -> int:
    rows = describe_models()
    if settings.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = f"{'name':<26}{'dim':>6}{'input':>10}{'params':>11}{'MB':>8}{'act MB':>8}  weights"
    print(header)
    print("-" * len(header))
    for r in rows:
        shape = "x".join(map(str, r["input_shape"]))
        weights = "-"
        if r["pretrained"]:
            weights = ("published" if not r["weights_path"] else
                       "shipped" if r["weights_path"].startswith(str(BUNDLED_DIR)) else "present")
        print(f"{r['name']:<26}{r['embedding_dim']:>6}{shape:>10}{r['params']:>11,}"
              f"{r['size_mb']:>8.2f}{r['activation_mb']:>8.2f}  {weights}")
    print(weights_lookup_text())
    return 0


COMMAND = Command(ModelsSettings, run)
