"""List the named model configs: embedding size, input shape, parameters, size, activations.

Parameters are the conv body's trainable parameters (the SEA paper's Table 1 count); size is
float32 bytes of every stored number (BatchNorm statistics included); activation memory is the largest single activation tensor for one
window (the SEA paper's Table 1 metric).
"""

from __future__ import annotations

import argparse
import json

from sea.configs import MODEL_CONFIGS, activation_bytes, count_parameters
from sea.weights import WEIGHT_SOURCES


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
            "description": cfg.description,
        })
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")


def run(args: argparse.Namespace) -> int:
    rows = describe_models()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = f"{'name':<26}{'dim':>6}{'input':>10}{'params':>11}{'MB':>8}{'act MB':>8}  weights"
    print(header)
    print("-" * len(header))
    for r in rows:
        shape = "x".join(map(str, r["input_shape"]))
        weights = "published" if r["pretrained"] else "-"
        print(f"{r['name']:<26}{r['embedding_dim']:>6}{shape:>10}{r['params']:>11,}"
              f"{r['size_mb']:>8.2f}{r['activation_mb']:>8.2f}  {weights}")
    return 0
