"""The int8 scheme the export's post-training quantization (deploy.convert) and the
quantization-aware training (training.qat) share: litert-torch's PT2E quantizer, with
litert-torch loaded in the converter's environment. One definition, so QAT trains through
exactly what the export will quantize with.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from sea.quiet import native_stderr_silenced

# Read by the converter's native MLIR library when it loads. On CPUs with AVX-512 VNNI/BF16 it
# turns on TensorFlow's oneDNN custom ops and announces that through absl on stderr, before any
# logging is set up; off, constant folding takes the same path on every CPU kind (the AVX2 one).
# A user's own setting wins.
CONVERTER_ENVIRONMENT = {"TF_ENABLE_ONEDNN_OPTS": "0"}


def load_converter() -> Any:
    """litert_torch, imported with the converter environment; what its native libraries print
    while loading is hidden unless -v (and replayed if the import fails)."""
    for name, value in CONVERTER_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    with native_stderr_silenced():
        import litert_torch

    litert_torch.config.show_progress = False
    return litert_torch


def symmetric_quantizer(is_qat: bool = False,
                        output_range: tuple[float, float] | None = None) -> Any:
    """litert-torch's PT2E quantizer as the int8 export uses it (per-channel symmetric
    weights), with bounded activations on their fixed range (annotate_bounded_activations);
    `output_range`: the body's output range when it is known (annotate_output_range), else it
    is calibrated like the rest; `is_qat`: the same scheme with fake-quantize modules for
    training."""
    load_converter()
    from litert_torch.quantize import pt2e_quantizer as pq

    class Quantizer(pq.PT2EQuantizer):  # a subclass: litert-torch's converter checks the type
        def annotate(self, model: torch.fx.GraphModule) -> torch.fx.GraphModule:
            model = super().annotate(model)
            annotate_bounded_activations(model.graph)
            if output_range is not None:
                annotate_output_range(model.graph, *output_range)
            return model

    return Quantizer().set_global(
        pq.get_symmetric_quantization_config(is_per_channel=True, is_qat=is_qat))


CONVOLUTIONS = ("aten.conv2d.default",)
BOUNDED_ACTIVATIONS = ("aten.hardtanh.default", "aten.hardtanh_.default")
# Ops whose output lies within their input's range: they keep a bounded activation's range.
RANGE_KEEPING = ("aten.max_pool2d.default", "aten.max_pool2d_with_indices.default",
                 "<built-in function getitem>")


def bounded_range_spec(low: float, high: float) -> Any:
    """int8 (de)quantization of exactly [low, high]: 256 levels, `low` at -128."""
    from torchao.quantization.pt2e.quantizer import FixedQParamsQuantizationSpec

    scale = (high - low) / 255.0
    return FixedQParamsQuantizationSpec(
        dtype=torch.int8, scale=scale, zero_point=int(round(-128 - low / scale)),
        quant_min=-128, quant_max=127, qscheme=torch.per_tensor_affine)


def annotate_bounded_activations(graph: torch.fx.Graph) -> None:
    """Give a bounded activation (ReLU6, a hardtanh in the graph), the tensor it clips and
    what reads it the int8 range of its bounds instead of a calibrated one. Calibration would
    widen it to cover whatever the producer emits before the clip (pure tones drive a
    student's activations to 3-6x their range on recordings), costing every window 2-3 bits;
    the fixed range is exact for everything the activation can output, so these ranges no
    longer depend on which windows calibrate them, and QAT trains on the export's grid."""
    for node in graph.nodes:
        if node.op != "call_function" or str(node.target) not in BOUNDED_ACTIVATIONS:
            continue
        low = node.args[1] if len(node.args) > 1 else node.kwargs.get("min_val", -1.0)
        high = node.args[2] if len(node.args) > 2 else node.kwargs.get("max_val", 1.0)
        spec = bounded_range_spec(float(low), float(high))
        producer = node.args[0]
        annotation = producer.meta.get("quantization_annotation")
        if annotation is not None:
            annotation.output_qspec = spec
        _fix_range_from(node, spec)


def _fix_range_from(node: torch.fx.Node, spec: Any) -> None:
    """`spec` for `node`'s output and its inputs' edges, and for every edge that reads it,
    through range-keeping ops (a max-pool) to the next layer's input."""
    annotation = node.meta.get("quantization_annotation")
    if annotation is not None:
        annotation.output_qspec = spec
        for source in annotation.input_qspec_map:
            annotation.input_qspec_map[source] = spec
    for user in node.users:
        annotation = user.meta.get("quantization_annotation")
        if annotation is not None and node in annotation.input_qspec_map:
            annotation.input_qspec_map[node] = spec
        if str(user.target) in RANGE_KEEPING:
            _fix_range_from(user, spec)


def annotate_output_range(graph: torch.fx.Graph, low: float, high: float) -> None:
    """Give the last convolution's output and everything after it the int8 range [low, high].
    For an output ranged by training.equalize the range is known by construction; a histogram
    observer would estimate a narrower one and saturate the rare large values that are exactly
    the embedding's max-pooled peaks, and QAT's moving averages of batch extremes narrower
    still (QAT trained against a clip the export does not apply)."""
    nodes = list(graph.nodes)
    last_conv = max(i for i, node in enumerate(nodes) if str(node.target) in CONVOLUTIONS)
    tail = set(nodes[last_conv:])
    spec = bounded_range_spec(low, high)
    for node in nodes[last_conv:]:
        annotation = node.meta.get("quantization_annotation")
        if annotation is None:
            continue
        if annotation.output_qspec is not None:  # None inside a fused pattern (conv-BN-ReLU)
            annotation.output_qspec = spec
        for source in annotation.input_qspec_map:
            if source in tail and node is not nodes[last_conv]:
                annotation.input_qspec_map[source] = spec
