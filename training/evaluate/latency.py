"""Per-window model latency as `sea bench` measures it: the median of many single-window calls
of the network alone (log-mel in; raw audio for an in-graph bundle) after a warm-up. Torch
models run on their device with torch's threads, bundles in their TFLite interpreter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from sea.timing import median_latency_ms

LATENCY_FILE = "latency.json"  # beside the embedding cache: a cache hit builds no model
LOG_MEL_RANGE_DB = (-80.0, 0.0)  # what the frontend emits; the values do not change the timing


def network_latency_ms(embedder, budget_s: float = 1.0) -> float:
    """Median ms per window of `embedder`'s network (an Embedder or a BundleEmbedder)."""
    rng = np.random.default_rng(0)
    if hasattr(embedder, "bundle"):
        model = embedder.model  # TFLiteModel of the chosen variant
        x = (rng.uniform(*LOG_MEL_RANGE_DB, size=model.input_shape) if embedder.frontend is not None
             else 0.1 * rng.standard_normal(model.input_shape)).astype(np.float32)
        return median_latency_ms(lambda: model(x), budget_s=budget_s)
    import torch

    net = embedder.model
    with torch.inference_mode():
        window = torch.zeros(1, embedder.cfg.frontend.window_samples, device=embedder.device)
        x = torch.empty_like(net.frontend(window)).uniform_(*LOG_MEL_RANGE_DB)

        def call() -> None:
            net.body(x)
            if x.is_cuda:
                torch.cuda.synchronize()

        return median_latency_ms(call, budget_s=budget_s)


def cached_latency_ms(cache_dir: Path, make_embedder: Callable[[], object]) -> float:
    """The latency stored with an embedding cache, measured (and stored) when it is missing."""
    from sea.manifest import atomic_write_json

    path = Path(cache_dir) / LATENCY_FILE
    if path.is_file():
        return float(json.loads(path.read_text())["network_ms_per_window"])
    latency = network_latency_ms(make_embedder())
    atomic_write_json(path, {"network_ms_per_window": latency})
    return latency
