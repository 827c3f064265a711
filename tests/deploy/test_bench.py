"""Benchmark helpers: arena measurement, latency medians, ratios and target lines."""

from __future__ import annotations

import math

import pytest

from deploy.arena import arena_bytes, liveness_peak_bytes, tflm_arena_bytes
from deploy.bench import BenchRow, ratios
from deploy.commands.bench import check_targets
from sea.bundle import Bundle
from sea.timing import median_latency_ms


def model_file(bundle):
    return bundle / Bundle(bundle).variants["outside"]["file"]


def test_liveness_covers_the_input_and_widest_activation(float_bundle):
    cfg = Bundle(float_bundle).cfg
    h, w = cfg.input_shape
    peak = liveness_peak_bytes(model_file(float_bundle))
    # the first conv's input and output (4 channels, float32) are live together
    assert peak >= 4 * h * w * (1 + cfg.filters[0])


def test_int8_arena_is_smaller(float_bundle, int8_bundle):
    assert arena_bytes(model_file(int8_bundle))[0] < arena_bytes(model_file(float_bundle))[0]


def test_tflite_micro_plans_at_least_the_liveness_peak(float_bundle):
    pytest.importorskip("tflite_micro")
    path = model_file(float_bundle)
    assert tflm_arena_bytes(path) >= liveness_peak_bytes(path)
    assert arena_bytes(path)[1] == "tflite-micro"


def test_median_latency_counts_runs():
    calls = []
    ms = median_latency_ms(lambda: calls.append(1), warmup=3, min_runs=20, max_runs=25,
                           budget_s=0.0)
    assert len(calls) == 23 and ms >= 0


def test_ratios_and_targets():
    rows = [BenchRow("openl3-mel256-env", "float32", 3000, 100.0, 60.0, 1000, "x", 1.0),
            BenchRow("student2", "int8", 100, 0.5, 0.4, 200 * 1024, "x", 0.999)]
    r = ratios(rows)
    assert r[1]["speedup_1t"] == 200.0 and r[1]["size_reduction"] == 30.0
    assert math.isclose(r[1]["arena_reduction"], round(1000 / (200 * 1024), 1))
    lines = check_targets(rows, r)
    assert len(lines) == 3 and all(line.endswith("met") for line in lines)
    rows[1].latency_ms_1t = 2.0
    assert any(line.endswith("MISSED") for line in check_targets(rows, ratios(rows)))
