"""sea.bundle: BundleEmbedder against the torch Embedder, quantized I/O, heads, errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import sea.bundle as bundle_mod
from deploy.parity import cosine
from sea.bundle import BundleEmbedder, BundleError, ClassifierHead
from sea.configs import count_parameters


@pytest.fixture(scope="module")
def clip():
    rng = np.random.default_rng(5)
    t = np.arange(int(16000 * 2.5)) / 16000
    return (0.3 * np.sin(2 * np.pi * 523 * t) + 0.05 * rng.standard_normal(len(t))), 16000


@pytest.fixture(scope="module")
def torch_embedder(tiny_checkpoint):
    from training.checkpoint import build_model
    from training.embedder import Embedder

    return Embedder(build_model(str(tiny_checkpoint)), device="cpu")


@pytest.mark.parametrize("variant", ["outside", "in-graph"])
def test_round_trip_matches_torch(float_bundle, torch_embedder, clip, variant):
    embedder = BundleEmbedder(float_bundle, variant=variant)
    emb, ts = embedder.embed(*clip, hop_seconds=0.25, center=True)
    ref, ref_ts = torch_embedder.embed(*clip, hop_seconds=0.25, center=True)
    np.testing.assert_array_equal(ts, ref_ts)
    assert emb.shape == ref.shape == (len(ts), 16)
    assert cosine(ref, emb).min() >= 0.9999


def test_interface_attributes(float_bundle, torch_embedder):
    embedder = BundleEmbedder(float_bundle)
    assert embedder.variant == "outside"  # numpy frontend + small network preferred
    assert embedder.dim == torch_embedder.dim == 16
    assert embedder.sample_rate == torch_embedder.sample_rate == 8000
    assert embedder.num_params == count_parameters(embedder.cfg)
    model_file = float_bundle / embedder.bundle.variants["outside"]["file"]
    assert embedder.size_bytes == model_file.stat().st_size
    assert embedder.name == "tiny-tflite-none"
    assert embedder.embed_windows(np.zeros((0, 8000))).shape == (0, 16)
    with pytest.raises(ValueError):
        embedder.embed_windows(np.zeros((2, 4000)))


def test_int8_bundle_outputs_float(int8_bundle, torch_embedder, clip):
    embedder = BundleEmbedder(int8_bundle)
    assert embedder.model.output["dtype"] == np.int8
    emb, _ = embedder.embed(*clip, hop_seconds=0.5)
    ref, _ = torch_embedder.embed(*clip, hop_seconds=0.5)
    assert emb.dtype == np.float32
    assert cosine(ref, emb).mean() >= 0.99


def test_head_scores(float_bundle):
    embedder = BundleEmbedder(float_bundle)
    scores = embedder.head(embedder.embed_windows(np.zeros((2, 8000), np.float32)))
    assert scores.shape == (2, 3) and np.all((scores >= 0) & (scores <= 1))


def test_head_validation(tmp_path):
    np.savez(tmp_path / "bad.npz", weights_0=np.zeros((4, 2)), bias_0=np.zeros(2),
             labels=np.array(["a", "b", "c"]))
    with pytest.raises(BundleError, match="labels"):
        ClassifierHead(tmp_path / "bad.npz")


def test_missing_pieces_are_clear_errors(tmp_path, float_bundle):
    with pytest.raises(BundleError, match="no bundle"):
        BundleEmbedder(tmp_path / "nothing")
    broken = tmp_path / "broken"
    shutil.copytree(float_bundle, broken)
    manifest = json.loads((broken / "manifest.json").read_text())
    (broken / manifest["variants"]["outside"]["file"]).unlink()
    with pytest.raises(BundleError, match="missing"):
        BundleEmbedder(broken, variant="outside")
    with pytest.raises(BundleError, match="no 'x' variant"):
        BundleEmbedder(float_bundle, variant="x")


def test_no_interpreter_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(bundle_mod, "INTERPRETERS", (("no_such_runtime_xyz", "Interpreter"),))
    with pytest.raises(BundleError, match="pip install ai-edge-litert"):
        bundle_mod.load_interpreter()
