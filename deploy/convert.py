"""Torch L3 models -> .tflite bytes with litert-torch (no TensorFlow).

Two graph variants per model (DESIGN: the node may or may not run the frontend itself):
- `in-graph`: raw 1-s window (1, window_samples) -> embedding; the frontend is the `matmul`
  DFT (a strided conv, no complex tensors: torch.stft / fft.rfft do not convert);
- `outside`: log-mel image (1, 1, bins, frames) -> embedding; the node runs sea.frontend.

Quantization touches the network only, never the frontend (int8 log-mel ruins quiet audio,
fp16 DFT weights hurt too):
- `int8`: PT2E static post-training quantization (per-channel symmetric weights, histogram
  activation observers) of the body, calibrated on representative log-mel images; the
  float frontend is composed in front of the quantized body for the in-graph variant;
- `float16`: weight-only fp16 of the body's conv/dense weights (ai-edge-quantizer).
"""

from __future__ import annotations

import contextlib
import logging

import numpy as np
import torch
from torch import nn

from training.quantizer import load_converter, symmetric_quantizer

# Tensor names litert-torch gives the body's ops (module path of training.model.L3Body).
BODY_TENSOR_REGEX = ".*L3Body.*"


@contextlib.contextmanager
def quiet_root_logger():
    """litert-torch logs every lowered op at INFO on the root logger; silence it meanwhile."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        root.setLevel(level)


class FrontendThenBody(nn.Module):
    """Audio -> float log-mel -> (possibly quantized) body, traced as one graph."""

    def __init__(self, frontend: nn.Module, body: nn.Module):
        super().__init__()
        self.frontend = frontend
        self.body = body

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.body(self.frontend(audio))


def example_input(model: nn.Module, variant: str) -> torch.Tensor:
    """A batch-1 input of the variant's shape (the exported graphs have a static batch of 1)."""
    cfg = model.cfg
    if variant == "in-graph":
        return torch.zeros(1, cfg.frontend.window_samples)
    return torch.zeros(1, 1, *cfg.input_shape)


def variant_module(model: nn.Module, variant: str, body: nn.Module | None = None) -> nn.Module:
    body = model.body if body is None else body
    if variant == "outside":
        return body
    module = FrontendThenBody(model.frontend.eval(), body)
    module.training = False  # not .eval(): an exported (quantized) body refuses train()/eval()
    return module


def convert_float(model: nn.Module, variant: str) -> bytes:
    """Float32 .tflite of one variant; `model` must use dft_mode='matmul'."""
    if variant == "in-graph" and model.frontend.dft_mode != "matmul":
        raise ValueError("the in-graph variant needs the frontend built with dft_mode='matmul'")
    with quiet_root_logger():
        edge = load_converter().convert(variant_module(model.eval(), variant),
                                 (example_input(model, variant),))
    return bytes(edge.model_content())


@contextlib.contextmanager
def skip_qat_bn_folding():
    """convert_pt2e runs a conv-BN folding pass meant for quantization-aware training; after
    post-training prepare_pt2e (which already fused BN into the convs) it finds nothing, but it
    traces ~100 pattern graphs to look (three quarters of the int8 export time). Skipping it
    gave byte-identical .tflite files (torchao 0.18)."""
    from torchao.quantization.pt2e import quantize_pt2e

    original = getattr(quantize_pt2e, "_fold_conv_bn_qat", None)
    if original is None:  # a torchao without this pass: nothing to skip
        yield
        return
    quantize_pt2e._fold_conv_bn_qat = lambda graph: graph
    try:
        yield
    finally:
        quantize_pt2e._fold_conv_bn_qat = original


def quantize_body(model: nn.Module, logmels: np.ndarray, batch: int = 32,
                  output_range: tuple[float, float] | None = None) -> nn.Module:
    """PT2E int8 body calibrated on log-mel images (N, 1, bins, frames). It is exported with a
    dynamic batch so calibration runs in batches (the histogram observers cost per call, not
    per window: 4x faster); conversion to TFLite then traces it at batch 1. `output_range`:
    the body's output range when known (training.quantizer.annotate_output_range), else
    calibrated like the rest."""
    from torchao.quantization.pt2e import move_exported_model_to_eval, quantize_pt2e

    if len(logmels) == 0:
        raise ValueError("int8 quantization needs at least one calibration window")
    shape = example_input(model, "outside").shape[1:]
    dynamic = ({0: torch.export.Dim("batch", min=1, max=4096)},)
    exported = torch.export.export(model.body.eval(), (torch.zeros(2, *shape),),
                                   dynamic_shapes=dynamic).module()
    quantizer = symmetric_quantizer(output_range=output_range)
    prepared = quantize_pt2e.prepare_pt2e(exported, quantizer)
    images = torch.as_tensor(np.asarray(logmels), dtype=torch.float32).reshape(-1, *shape)
    with torch.no_grad():
        for i in range(0, len(images), batch):
            prepared(images[i:i + batch])
    with skip_qat_bn_folding():
        quantized = quantize_pt2e.convert_pt2e(prepared, fold_quantize=False)
    quantized = move_exported_model_to_eval(quantized)
    quantized.training = False  # what litert-torch checks; .eval() is refused by exported graphs
    return quantized


def convert_int8(model: nn.Module, quantized_body: nn.Module, variant: str) -> bytes:
    """Int8 .tflite of one variant from a body returned by `quantize_body`."""
    converter = load_converter()
    from litert_torch.quantize.quant_config import QuantConfig

    module = variant_module(model, variant, body=quantized_body)
    with quiet_root_logger():
        edge = converter.convert(module, (example_input(model, variant),),
                                 quant_config=QuantConfig(pt2e_quantizer=symmetric_quantizer()))
    return bytes(edge.model_content())


def to_float16(tflite: bytes) -> bytes:
    """Weight-only fp16 of the body's conv and dense weights; the frontend's stay float32."""
    from ai_edge_quantizer import qtyping, quantizer
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    q = quantizer.Quantizer(bytearray(tflite))
    for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        q.add_weight_only_config(regex=BODY_TENSOR_REGEX,
                                 operation_name=getattr(qtyping.TFLOperationName, op),
                                 num_bits=16, algorithm_key=AlgorithmName.FLOAT_CASTING)
    return bytes(q.quantize().quantized_model)
