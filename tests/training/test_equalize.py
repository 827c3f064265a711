"""Output ranging is exact in float, undone by the bundle's output map, and gives the pooled
embedding the whole int8 range."""

import dataclasses

import numpy as np
import pytest
import torch

from sea.configs import custom_config
from training.equalize import MARGIN_ABOVE, MARGIN_BELOW, OutputRange, equalized_copy, measure
from training.model import L3Net

pytestmark = pytest.mark.numeric


def tiny_model(final_bn_relu: bool, embedding_pool=None) -> L3Net:
    cfg = dataclasses.replace(custom_config((4, 8, 8, 16)), final_bn_relu=final_bn_relu,
                              embedding_pool=embedding_pool)
    torch.manual_seed(0)
    model = L3Net(cfg).eval()
    with torch.no_grad():  # BN statistics of a trained model rather than the identity
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    return model


@pytest.mark.parametrize("final_bn_relu", [True, False])
def test_equalized_model_maps_each_channel_back_exactly(final_bn_relu):
    model = tiny_model(final_bn_relu)
    x = torch.randn(6, 8000) * 0.1
    with torch.no_grad():
        logmels = model.frontend(x).numpy()
        ref = model(x).numpy()
        output_range = measure(model, logmels)
        equalized = equalized_copy(model, output_range)
        out = equalized(x).numpy()
    assert output_range.clamped is not final_bn_relu
    scale, offset = output_range.per_dimension(model.cfg.embedding_dim)
    # float32 round-off of a rescaled conv stack: relative to the output's range, not absolute
    np.testing.assert_allclose(out * scale + offset, ref, rtol=1e-4,
                               atol=1e-4 * np.abs(ref).max())
    live = output_range.scales > output_range.scales.max() * 1e-3
    assert live.any()
    if final_bn_relu:  # non-negative features: each live channel peaks at exactly 1
        np.testing.assert_allclose(out.max(axis=0)[live], 1.0, atol=1e-5)
    else:  # the pooled calibration range, widened by the margins, is [0, 1]
        widened = 1 + MARGIN_BELOW + MARGIN_ABOVE
        # the same round-off, now relative to each channel's span (the shift cancels the rest)
        tol = 1e-4 * np.abs(ref).max() / output_range.scales[live].min()
        np.testing.assert_allclose(out.min(axis=0)[live], MARGIN_BELOW / widened, atol=tol)
        np.testing.assert_allclose(out.max(axis=0)[live], 1 - MARGIN_ABOVE / widened, atol=tol)


def test_linear_output_range_ignores_the_feature_maps_unpooled_values():
    """What int8 gains: the pooled values, not the whole pre-pool map, set the range."""
    model = tiny_model(final_bn_relu=False)
    x = torch.randn(8, 8000) * 0.1
    with torch.no_grad():
        logmels = model.frontend(x).numpy()
        fmap = model.body.feature_map(torch.from_numpy(logmels))
        pooled = model(x)
    output_range = measure(model, logmels)
    map_span = (fmap.amax(dim=(0, 2, 3)) - fmap.amin(dim=(0, 2, 3))).numpy()
    pooled_span = (pooled.amax(0) - pooled.amin(0)).numpy()
    np.testing.assert_allclose(output_range.scales,
                               (1 + MARGIN_BELOW + MARGIN_ABOVE) * pooled_span, rtol=1e-5)
    assert (output_range.scales < map_span).all()


def test_a_window_below_the_calibrated_range_reads_its_floor():
    model = tiny_model(final_bn_relu=False)
    calibration = torch.randn(6, 8000) * 0.1
    with torch.no_grad():
        output_range = measure(model, model.frontend(calibration).numpy())
    # a range whose floor is above everything: the ReLU clips every value to it
    high = OutputRange(output_range.scales, output_range.offsets + 100.0, clamped=True)
    with torch.no_grad():
        out = equalized_copy(model, high)(calibration).numpy()
    scale, offset = high.per_dimension(model.cfg.embedding_dim)
    np.testing.assert_allclose(out * scale + offset, np.broadcast_to(offset, out.shape),
                               rtol=1e-6)


@pytest.mark.parametrize("final_bn_relu", [True, False])
def test_undo_restores_the_original_layer(final_bn_relu):
    model = tiny_model(final_bn_relu)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    structure = repr(model)
    with torch.no_grad():
        output_range = measure(model, model.frontend(torch.randn(4, 8000) * 0.1).numpy())
    output_range.apply(model)
    output_range.undo(model)
    assert repr(model) == structure
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, before[name], rtol=1e-6, atol=1e-7)


def test_output_map_follows_channels_last_flattening():
    output_range = OutputRange(np.arange(1, 5, dtype=np.float32),
                               np.arange(5, 9, dtype=np.float32), clamped=True)
    scale, offset = output_range.per_dimension(12)
    np.testing.assert_array_equal(scale, np.tile(np.arange(1, 5), 3))
    np.testing.assert_array_equal(offset, np.tile(np.arange(5, 9), 3))


def test_pooled_grid_range_is_measured_per_channel():
    model = tiny_model(final_bn_relu=False, embedding_pool=(2, 2))
    x = torch.randn(5, 8000) * 0.1
    with torch.no_grad():
        logmels = model.frontend(x).numpy()
        ref = model(x).numpy()
        output_range = measure(model, logmels)
        out = equalized_copy(model, output_range)(x).numpy()
    scale, offset = output_range.per_dimension(model.cfg.embedding_dim)
    np.testing.assert_allclose(out * scale + offset, ref, rtol=1e-4,
                               atol=1e-4 * np.abs(ref).max())
