"""A fast inference copy of an L3-family model (issue 15): same numbers, less work per window.

What changes against `training.model.L3Net` (each lever measured by benchmarks/bench_teacher.py):
- every conv + BatchNorm pair becomes one conv with folded weights (the BN pass over a large
  activation map goes away; the result differs by float32 round-off only);
- the body runs channels-last (NHWC) where oneDNN's NHWC kernels are the fast ones (AVX-512
  CPUs, CUDA); on an AVX2 CPU (AMD EPYC here) NHWC took 30 % more CPU time than NCHW, so
  NCHW stays there (benchmarks/bench_teacher.py measures both);
- where the body runs channels-last on a CPU, every conv is oneDNN's with weights reordered
  once and the ReLU fused (OneDNNConv), the kernels and fusion TensorFlow's oneDNN path uses;
- 2x2 max-pools are two elementwise maxima of strided views (torch's CPU max_pool2d also
  writes an index tensor, and an amax over a reshape is 80x slower on channels-last input);
- a batch is run in small chunks (`chunk`), so activation buffers stay below glibc's mmap
  threshold and are reused from the heap instead of being mapped, zeroed by the kernel and
  unmapped every batch (that was a third of the CPU time, as system time), and on a CPU
  glibc keeps freed buffers up to 32 MiB in the heap (`keep_freed_activations_in_heap`);
- optionally in bfloat16 (`precision="bf16"`), only where the CPU has bf16 units.

The input BatchNorm stays a separate affine: folding it into the first conv is not exact at
the image border, where the conv's zero padding sits in the BN's output space.
"""

from __future__ import annotations

import copy
import ctypes
import platform
from pathlib import Path

import torch
from torch import nn

from sea.settings import SettingError
from training.model import L3Net
from training.settings.inference import PRECISIONS

# CPU flags of bf16 hardware: AVX512-BF16 (Cooper Lake, Zen 4+) or AMX tiles (Sapphire Rapids+).
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
DEFAULT_CHUNK = 2  # beat chunks of 4 and whole batches of 8 in bench_teacher.py (1 thread)


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt() parameter numbers


def keep_freed_activations_in_heap() -> bool:
    """glibc only, process-wide: serve buffers up to 32 MiB from the heap and return freed
    heap to the kernel only past 256 MiB. With glibc's dynamic defaults the heap top (2x the
    last freed mapping) went back to the kernel between windows, so OpenL3's 13 MB activation
    maps were mapped and zeroed anew: 13 ms of system time per window, 6 % of the teacher on
    AVX-512. Returns whether glibc took the setting."""
    if platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)
    return bool(libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)) and bool(
        libc.mallopt(M_TRIM_THRESHOLD, 256 << 20))


class PrecisionUnavailable(SettingError):
    """The requested precision has no hardware support here (the message says why; it names
    the setting as `{precision}`)."""

    def __init__(self, template: str) -> None:
        super().__init__("precision", template)


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The `flags` of the first CPU in /proc/cpuinfo (empty where there is no such file)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):  # x86 / aarch64
            return set(line.split(":", 1)[1].split())
    return set()


def check_precision(precision: str, device: torch.device,
                    flags: set[str] | None = None) -> None:
    """Raise PrecisionUnavailable unless `precision` can run fast on `device`."""
    if precision not in PRECISIONS:
        raise PrecisionUnavailable(f"{{precision}} {precision!r} not in {PRECISIONS}")
    if precision == "float32" or device.type == "cuda":
        return
    flags = cpu_flags() if flags is None else flags
    if not flags & set(BF16_FLAGS) and not {"bf16", "sve"} <= flags:  # aarch64: BF16 + SVE
        raise PrecisionUnavailable(
            "{precision} bf16 needs a CPU with bfloat16 units (x86 flag avx512_bf16 or "
            "amx_bf16, aarch64 flags bf16 and sve) or a CUDA device; this CPU has none, so bf16 "
            "would be emulated and slower than float32. Use the default {precision} float32.")


def prefers_channels_last(device: torch.device) -> bool:
    return device.type == "cuda" or "avx512f" in cpu_flags()


def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """One conv computing bn(conv(x)) in inference mode (folded in float64, stored float32)."""
    scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                      conv.padding, bias=True)
    with torch.no_grad():
        fused.weight.copy_(conv.weight.double() * scale[:, None, None, None])
        fused.bias.copy_((bias - bn.running_mean.double()) * scale + bn.bias.double())
    return fused


class MaxPool2x2(nn.Module):
    """2x2 stride-2 'valid' max-pool as two elementwise maxima of strided views: no index
    tensor, and it keeps the memory format. (A reshape + amax over the pooled axes took 160 ms
    per 2 OpenL3 windows on channels-last input, 30 % of the teacher's time; this takes 2 ms.)"""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2] - x.shape[2] % 2, x.shape[3] - x.shape[3] % 2
        rows = torch.maximum(x[:, :, 0:h:2], x[:, :, 1:h:2])
        return torch.maximum(rows[:, :, :, 0:w:2], rows[:, :, :, 1:w:2])


def onednn_available(device: torch.device) -> bool:
    """Whether torch's oneDNN conv with pre-reordered weights (the op torch.compile's CPU
    backend emits) can run on `device`."""
    return (device.type == "cpu" and torch.backends.mkldnn.is_available()
            and hasattr(torch.ops.mkldnn, "_convolution_pointwise"))


class OneDNNConv(nn.Module):
    """A conv (+ ReLU or ReLU6) run by oneDNN with its weights reordered into oneDNN's
    blocked layout once, on the first call, and the activation fused into the conv.
    `nn.Conv2d` reorders the weights on every call, writes the output, then a ReLU reads and
    writes it again; for the 1-input-channel first conv it also runs a kernel 7x slower than
    this one (10 ms against 1.4 ms per OpenL3 window on AVX-512). Channels-last output."""

    def __init__(self, conv: nn.Conv2d, activation: nn.Module | None, dtype: torch.dtype):
        super().__init__()
        self.geometry = (list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups)
        if isinstance(activation, nn.Hardtanh):  # ReLU6
            self.attr, self.scalars = "hardtanh", [activation.min_val, activation.max_val]
        else:
            self.attr, self.scalars = ("relu" if activation is not None else "none"), []
        # plain attributes, not buffers: oneDNN's opaque tensors do not move with .to()
        self.weight = conv.weight.detach().to(dtype).clone()
        self.bias = conv.bias.detach().to(dtype).clone()
        self.packed: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.packed is None:  # the layout oneDNN picks depends on the input's shape
            self.packed = torch.ops.mkldnn._reorder_convolution_weight(
                self.weight, *self.geometry, list(x.shape))
        return torch.ops.mkldnn._convolution_pointwise(x, self.packed, self.bias,
                                                       *self.geometry, self.attr, self.scalars, "")


def fused_body_layers(model: L3Net, onednn_dtype: torch.dtype | None = None) -> nn.Sequential:
    """The conv blocks with every BN folded into its conv and pools without indices; with
    `onednn_dtype`, every conv (+ its activation) is a OneDNNConv in that dtype."""
    layers: list[nn.Module] = []
    for block in model.body.blocks:
        if isinstance(block, nn.MaxPool2d):
            layers.append(MaxPool2x2())
            continue
        conv, *rest = list(block)
        activation = copy.deepcopy(rest[1]) if rest else None  # after the BN
        conv = fold_conv_bn(conv, rest[0]) if rest else copy.deepcopy(conv)
        if onednn_dtype is not None:
            layers.append(OneDNNConv(conv, activation, onednn_dtype))
        else:
            layers += [conv] if activation is None else [conv, activation]
    return nn.Sequential(*layers)


class FastL3(nn.Module):
    """Inference-only twin of an L3Net: same input, same output, to float32 round-off."""

    def __init__(self, model: L3Net, precision: str = "float32", chunk: int = DEFAULT_CHUNK,
                 channels_last: bool | None = None):
        super().__init__()
        if precision not in PRECISIONS:
            raise PrecisionUnavailable(f"{{precision}} {precision!r} not in {PRECISIONS}")
        self.cfg = model.cfg
        self.precision = precision
        self.chunk = chunk
        if channels_last is None:
            channels_last = prefers_channels_last(next(model.parameters()).device)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.frontend = copy.deepcopy(model.frontend)
        bn = model.body.input_bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        self.register_buffer("in_scale", scale.detach().clone())
        self.register_buffer("in_shift", (bn.bias - bn.running_mean * scale).detach().clone())
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        # oneDNN with packed weights wherever channels-last runs on a CPU (AVX-512); the
        # NCHW path (AVX2) keeps nn.Conv2d, measured there.
        onednn = channels_last and onednn_available(next(model.parameters()).device)
        self.blocks = fused_body_layers(model, dtype if onednn else None).to(
            dtype=dtype, memory_format=self.memory_format)
        self.eval()

    def body(self, logmel: torch.Tensor) -> torch.Tensor:
        x = logmel * self.in_scale + self.in_shift
        if self.precision == "bf16":
            x = x.to(torch.bfloat16)
        fmap = self.blocks(x.contiguous(memory_format=self.memory_format)).float()
        pool = self.cfg.embedding_pool
        if pool is None:
            return fmap.amax(dim=(2, 3))
        pooled = nn.functional.max_pool2d(fmap, pool, ceil_mode=True)
        return pooled.permute(0, 2, 3, 1).flatten(1)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        if audio.shape[0] == 0:
            return audio.new_zeros((0, self.cfg.embedding_dim))
        return torch.cat([self.body(self.frontend(part)) for part in audio.split(self.chunk)])


def fast_model(model: L3Net, precision: str = "float32", chunk: int = DEFAULT_CHUNK,
               device: torch.device | None = None) -> FastL3:
    """FastL3 of `model` (eval mode, on `device`); refuses bf16 where the CPU lacks bf16 units.
    On a CPU it also keeps freed activation buffers in the heap (process-wide, glibc)."""
    device = device or next(model.parameters()).device
    check_precision(precision, device)
    if device.type == "cpu":
        keep_freed_activations_in_heap()
    return FastL3(model, precision, chunk).to(device)
