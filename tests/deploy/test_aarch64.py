"""sea-node on emulated aarch64 (deploy/targets/aarch64.sh) vs the native run, one short clip.

The arm64 rootfs is built once by `deploy/targets/aarch64.sh --build-only` (root, mmdebstrap,
tens of minutes under emulation), so this test never builds it: on a clean CI machine it skips
with the reason, and runs wherever the cached rootfs exists (SEA_AARCH64_ROOTFS).
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from deploy.targets.emulated import (FLOAT_MIN_COSINE, compare_runs, emulation_missing,
                                     run_emulated)

pytestmark = pytest.mark.skipif(emulation_missing() is not None,
                                reason=str(emulation_missing()))


def test_emulated_node_matches_native(tmp_path, float_bundle):
    from deploy.node.cli import main

    rng = np.random.default_rng(0)
    clip = tmp_path / "clip.wav"
    sf.write(clip, (0.1 * rng.standard_normal(int(8000 * 1.6))).astype(np.float32), 8000,
             subtype="FLOAT")
    native, emulated = tmp_path / "x86.jsonl", tmp_path / "arm.jsonl"
    assert main(["run", "--bundle", str(float_bundle), "--input", str(clip),
                 "--out", str(native)]) == 0
    machine, _ = run_emulated(float_bundle, [clip], emulated)
    assert "aarch64" in machine
    report = compare_runs(native, emulated)
    assert report["windows"] == 4 and report["min_cosine"] >= FLOAT_MIN_COSINE
