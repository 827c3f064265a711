"""Bounded activations (the students' ReLU6) and the equalized output get the int8 range
they are known to have, in the export's post-training quantization and in QAT alike,
whatever windows calibrate them."""

import dataclasses

import pytest
import torch

from sea.configs import custom_config
from training.model import L3Net

pytestmark = pytest.mark.numeric

RELU6_SCALE, RELU6_ZERO_POINT = 6.0 / 255.0, -128
OUTPUT_SCALE, OUTPUT_ZERO_POINT = 1.0 / 255.0, -128  # training.equalize.EQUALIZED_RANGE


def tiny_student() -> L3Net:
    torch.manual_seed(0)
    cfg = dataclasses.replace(custom_config((4, 8, 8, 16)), final_bn_relu=False)
    return L3Net(cfg).eval()


def int8_ranges(model: L3Net, audio: torch.Tensor,
                output_range: tuple[float, float] | None = None) -> dict[str, tuple[float, int]]:
    """(scale, zero point) of every activation quantization in the export's int8 body,
    by the tensor it quantizes."""
    from deploy.convert import quantize_body

    with torch.no_grad():
        logmels = model.frontend(audio).numpy()
    graph = quantize_body(model, logmels, output_range=output_range).graph
    ranges = {}
    for node in graph.nodes:
        if str(node.target) == "quantized_decomposed.quantize_per_tensor.default":
            assert "dequantize" not in str(node.args[0].target), "a requantization"
            ranges[node.args[0].name] = (float(node.args[1]), int(node.args[2]))
    return ranges


def test_relu6_ranges_are_fixed_whatever_calibrates_them():
    model = tiny_student()
    seconds = torch.arange(8000) / 8000
    quiet_noise = torch.randn(4, 8000) * 0.01
    loud_tones = torch.stack([0.9 * torch.sin(2 * torch.pi * f * seconds)
                              for f in (440.0, 1200.0, 2500.0, 3700.0)])
    noise_ranges, tone_ranges = int8_ranges(model, quiet_noise), int8_ranges(model, loud_tones)
    bounded = {name: r for name, r in noise_ranges.items()
               if name.startswith(("conv2d", "hardtanh", "max_pool2d"))}
    bounded.pop("conv2d_7")  # the 8th conv, linear: ranged by training.equalize instead
    # 7 ReLU6 layers: each conv's output and the ReLU6's, and the 3 max-pools after them
    assert len(bounded) == 7 * 2 + 3
    for name, (scale, zero_point) in bounded.items():
        assert (scale, zero_point) == pytest.approx((RELU6_SCALE, RELU6_ZERO_POINT)), name
        assert tone_ranges[name] == noise_ranges[name], name
    # what still calibrates: the log-mel input, which differs between these sets
    input_name = next(iter(noise_ranges))
    assert tone_ranges[input_name] != noise_ranges[input_name]


def test_a_known_output_range_is_the_output_quantization():
    from training.equalize import EQUALIZED_RANGE, equalized_copy, measure

    model = tiny_student()
    audio = torch.randn(4, 8000) * 0.1
    with torch.no_grad():
        equalized = equalized_copy(model, measure(model, model.frontend(audio).numpy()))
    calibrated = int8_ranges(equalized, audio)
    known = int8_ranges(equalized, audio, output_range=EQUALIZED_RANGE)
    tail = [name for name in known if name.startswith(("conv2d_7", "relu", "amax"))]
    assert tail, list(known)
    for name in tail:
        assert known[name] == pytest.approx((OUTPUT_SCALE, OUTPUT_ZERO_POINT)), name
    # calibration saw only these windows: its range is the pooled values', narrower than [0, 1]
    assert calibrated[tail[0]][0] < OUTPUT_SCALE
    assert {name: known[name] for name in known if name not in tail} == {
        name: calibrated[name] for name in known if name not in tail}


def test_qat_trains_on_the_same_fixed_ranges():
    from torchao.quantization.pt2e.fake_quantize import FixedQParamsFakeQuantize

    from training.qat import QATBody, training_output_range

    model = tiny_student()
    windows = torch.randn(4, 8000) * 0.1
    body = QATBody(model, training_output_range(model, windows))
    fixed = [m for m in body.graph.modules() if isinstance(m, FixedQParamsFakeQuantize)]
    relu6 = [m for m in fixed if m.scale.item() == pytest.approx(RELU6_SCALE, rel=1e-6)]
    output = [m for m in fixed if m.scale.item() == pytest.approx(OUTPUT_SCALE, rel=1e-6)]
    assert len(relu6) == 7 * 2 + 3 and output and len(relu6) + len(output) == len(fixed)
    assert {m.zero_point.item() for m in fixed} == {RELU6_ZERO_POINT}
