"""Output equalization is exact in float and undone by the bundle's output scale."""

import dataclasses

import numpy as np
import pytest
import torch

from training.equalize import channel_scales, equalized_copy, output_scale
from sea.configs import custom_config
from training.model import L3Net

pytestmark = pytest.mark.numeric


@pytest.mark.parametrize("final_bn_relu", [True, False])
def test_equalized_model_divides_each_channel(final_bn_relu):
    cfg = dataclasses.replace(custom_config((4, 8, 8, 16)), final_bn_relu=final_bn_relu)
    torch.manual_seed(0)
    model = L3Net(cfg).eval()
    x = torch.randn(6, 8000) * 0.1
    with torch.no_grad():
        logmels = model.frontend(x).numpy()
        ref = model(x).numpy()
        scales = channel_scales(model, logmels)
        equalized = equalized_copy(model, scales)
        out = equalized(x).numpy()
        fmap = equalized.body.feature_map(torch.from_numpy(logmels)).numpy()
    # float32 round-off of a rescaled conv stack: relative to the output's range, not absolute
    np.testing.assert_allclose(out * output_scale(scales, cfg.embedding_dim), ref,
                               rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    # every channel of the pre-pool map, negative side included, now spans at most [-1, 1]
    assert np.abs(fmap).max() <= 1.0 + 1e-5
    live = scales > scales.max() * 1e-3  # channels a ReLU never opened keep their zeros
    assert live.any()
    np.testing.assert_allclose(np.abs(fmap).max(axis=(0, 2, 3))[live], 1.0, atol=1e-5)


def test_output_scale_follows_channels_last_flattening():
    scales = np.arange(1, 5, dtype=np.float32)
    np.testing.assert_array_equal(output_scale(scales, 12), np.tile(scales, 3))
