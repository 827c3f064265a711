"""The int8 scheme the export's post-training quantization (deploy.convert) and the
quantization-aware training (training.qat) share: litert-torch's PT2E quantizer, with
litert-torch loaded in the converter's environment. One definition, so QAT trains through
exactly what the export will quantize with.
"""

from __future__ import annotations

import os
from typing import Any

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


def symmetric_quantizer(is_qat: bool = False) -> Any:
    """litert-torch's PT2E quantizer as the int8 export uses it (per-channel symmetric
    weights); `is_qat`: the same scheme with fake-quantize modules for training."""
    load_converter()
    from litert_torch.quantize import pt2e_quantizer as pq

    return pq.PT2EQuantizer().set_global(
        pq.get_symmetric_quantization_config(is_per_channel=True, is_qat=is_qat))
