"""Quantization-aware distillation: the last epochs train through the int8 body of the export.

The int8 export (deploy.convert.quantize_body) quantizes the body with torchao PT2E and
litert-torch's symmetric per-channel quantizer (training.quantizer) after folding BatchNorm into
the convs and equalizing the output channels (training.equalize). Here the same quantizer,
configured for training (`is_qat`), is applied to the student's body: weights are
fake-quantized per channel with BN folded as the export folds it, activations per tensor with
moving-average ranges (the ReLU6 layers and the equalized output on the export's fixed
ranges), and the output channels are equalized first (scales measured on training windows, as
the export measures them on calibration windows) and multiplied back after the quantized
output.

The parameters of the prepared graph are the student's own tensors, so the float student
(output scaling undone) is the QAT-adapted model; the checkpoint stores it and `sea export
--quantize int8` calibrates it as usual (docs/training.md says why that was chosen).
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from training import equalize
from training.model import L3Net
from training.quantizer import symmetric_quantizer

SCHEME = ("torchao PT2E QAT with litert-torch's symmetric quantizer: int8 per-channel "
          "weights with BatchNorm folded, int8 per-tensor activations, outputs ranged "
          "per channel as the export ranges them")


@contextlib.contextmanager
def export_accepts_functions() -> Iterator[None]:
    """torchao 0.18 and litert-torch trace their conv-BN patterns by passing plain functions
    to torch.export.export, which the torch in use (2.13) refuses (it wants an nn.Module):
    wrap such functions in one (prepare_qat_pt2e and convert_pt2e of a QAT graph need it)."""
    original = torch.export.export

    class Function(nn.Module):
        def __init__(self, fn: Any) -> None:
            super().__init__()
            self.fn = fn

        def forward(self, *args: Any, **kwargs: Any) -> Any:
            return self.fn(*args, **kwargs)

    def export(mod: Any, *args: Any, **kwargs: Any) -> Any:
        return original(mod if isinstance(mod, nn.Module) else Function(mod), *args, **kwargs)

    torch.export.export = export
    try:
        yield
    finally:
        torch.export.export = original


@torch.no_grad()
def training_output_range(model: L3Net, windows: torch.Tensor,
                          batch: int = 32) -> equalize.OutputRange:
    """The export's output ranging, measured on training windows (B, samples)."""
    was_training = model.training
    model.eval()
    logmels = torch.cat([model.frontend(windows[i:i + batch])
                         for i in range(0, len(windows), batch)]).cpu().numpy()
    output_range = equalize.measure(model, logmels)
    model.train(was_training)
    return output_range


class QATBody(nn.Module):
    """`model`'s body fake-quantized as the int8 export quantizes it: log-mel -> embedding.

    Building it equalizes `model`'s last layer in place (maps its output channels by
    `output_range`); `float_model` returns the student with that undone."""

    def __init__(self, model: L3Net, output_range: equalize.OutputRange) -> None:
        super().__init__()
        from torchao.quantization.pt2e import (move_exported_model_to_eval,
                                               move_exported_model_to_train, quantize_pt2e)

        self.output_range = output_range
        output_range.apply(model)
        device = next(model.parameters()).device
        example = torch.zeros(2, 1, *model.cfg.input_shape, device=device)
        dynamic = ({0: torch.export.Dim("batch", min=1, max=4096)},)
        model.body.train()  # exported with training-mode BatchNorm: QAT updates its statistics
        with export_accepts_functions():
            exported = torch.export.export(model.body, (example,), dynamic_shapes=dynamic)
            quantizer = symmetric_quantizer(is_qat=True, output_range=equalize.EQUALIZED_RANGE)
            self.graph = quantize_pt2e.prepare_qat_pt2e(exported.module(), quantizer)
        # The graph as every later epoch runs it: torchao's train/eval switches rewrite the
        # BatchNorm ops (their running-statistics update differs from the export's), so a
        # freshly prepared graph and one that has been through eval differ; a resumed run
        # must train exactly like an uninterrupted one.
        move_exported_model_to_eval(self.graph)
        move_exported_model_to_train(self.graph)
        scale, offset = output_range.per_dimension(model.cfg.embedding_dim)
        self.register_buffer("output_scale", torch.as_tensor(scale, device=device))
        self.register_buffer("output_offset", torch.as_tensor(offset, device=device))

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        return self.output_map(self.graph(logmel))

    def output_map(self, out: torch.Tensor) -> torch.Tensor:
        """The equalized output mapped back (as the bundle's output scale and offset do)."""
        return out * self.output_scale + self.output_offset

    def train(self, mode: bool = True) -> QATBody:
        """Training: batch-statistics BN, observers on; eval: running statistics, ranges
        frozen. (An exported graph refuses nn.Module.train, so this does not recurse.)"""
        from torchao.quantization.pt2e import (disable_observer, enable_observer,
                                               move_exported_model_to_eval,
                                               move_exported_model_to_train)

        if mode != self.training:
            (move_exported_model_to_train if mode else move_exported_model_to_eval)(self.graph)
        self.graph.apply(enable_observer if mode else disable_observer)
        self.training = mode
        return self

    def float_model(self, model: L3Net) -> L3Net:
        """A copy of the student (whose tensors this graph trains) with the equalization
        undone: the float model the checkpoint stores and the export quantizes."""
        model = copy.deepcopy(model)
        self.output_range.undo(model)
        return model

    def state(self) -> dict[str, Any]:
        """What resuming needs: the output range and every tensor of the graph (the student's
        equalized weights and BN statistics, the fake-quantizers' ranges)."""
        rng = self.output_range
        return {"scales": torch.from_numpy(rng.scales.copy()),
                "offsets": torch.from_numpy(rng.offsets.copy()),
                "clamped": torch.tensor(rng.clamped), "graph": self.graph.state_dict()}

    @classmethod
    def restore(cls, model: L3Net, saved: dict[str, Any]) -> QATBody:
        """The QAT body of a resumed run, exactly as it was saved (`state()`)."""
        scales = saved["scales"].numpy()
        if "offsets" in saved:
            output_range = equalize.OutputRange(scales, saved["offsets"].numpy(),
                                                bool(saved["clamped"]))
        else:  # saved before linear outputs were ranged: they were scaled only
            output_range = equalize.OutputRange(scales, np.zeros_like(scales), clamped=False)
        body = cls(model, output_range)
        body.graph.load_state_dict(saved["graph"])
        return body
