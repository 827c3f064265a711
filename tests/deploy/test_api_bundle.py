"""`sea.load_model` on a TFLite bundle: the node's runtime behind the same API, no torch."""

import subprocess
import sys

import numpy as np
import pytest

import sea


def test_bundle_embeds_like_its_bundle_embedder_without_torch(float_bundle):
    from sea.bundle import BundleEmbedder

    x = np.random.default_rng(0).standard_normal(8000 * 2) * 0.1
    emb, ts = sea.get_audio_embedding(x, 8000, model=sea.load_model(float_bundle), hop=0.5)
    expected, expected_ts = BundleEmbedder(float_bundle).embed(x, 8000, 0.5)
    np.testing.assert_array_equal(emb, expected)
    np.testing.assert_array_equal(ts, expected_ts)
    code = ("import sys, numpy as np, sea; m = sea.load_model(sys.argv[1]); "
            "sea.get_audio_embedding(np.zeros(8000), 8000, model=m); print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(float_bundle)], capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "False"
    with pytest.raises(ValueError, match="cpu"):
        sea.load_model(float_bundle, device="cuda")


def test_a_loaded_bundle_is_an_embedder_with_the_resampler_asked_for(float_bundle):
    from sea.models import Embedder

    model = sea.load_model(float_bundle, resampler="resampy")
    assert isinstance(model.embedder, Embedder)
    assert model.resampler == "resampy" and model.device == "cpu"
