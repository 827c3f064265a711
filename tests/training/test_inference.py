"""The fast inference copy (training.inference) computes what the trained model computes.

Error model: a float32 dot product of n terms is off by at most n * eps32 * sum|w x| (Higham's
gamma_n bound), so one folded conv is checked against a float64 reference with that bound;
the whole body is checked against a float64 copy of the plain model, where the per-layer
errors (about sqrt(n) * eps32 relative, n <= 9 * 64 here) add up over 8 convs to ~1e-5
relative of the largest activation: 1e-4 leaves a 10x margin on any SIMD width.
"""

from __future__ import annotations

import dataclasses
import platform

import numpy as np
import pytest
import torch
from torch import nn

from deploy.parity import cosine
from sea.configs import custom_config
from training.inference import (FastL3, MaxPool2x2, OneDNNConv, PrecisionUnavailable,
                                check_precision, fast_model, fold_conv_bn,
                                keep_freed_activations_in_heap, onednn_available)
from training.model import BN_EPS, L3Net

EPS32 = float(np.finfo(np.float32).eps)


def randomise_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BN statistics (fresh ones are the identity, which folding cannot get wrong)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
            n = bn.num_features
            bn.weight.copy_(torch.rand(n, generator=g) + 0.5)
            bn.bias.copy_(torch.rand(n, generator=g) - 0.5)
            bn.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
            bn.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
    return model.eval()


def tiny_model(pool: tuple[int, int] | None = None, final_bn_relu: bool = True) -> L3Net:
    torch.manual_seed(0)
    cfg = dataclasses.replace(custom_config((8, 16, 16, 24)), embedding_pool=pool,
                              final_bn_relu=final_bn_relu)
    model = randomise_bn(L3Net(cfg))
    with torch.no_grad():  # the first BN sees dB values in [-80, 0] (as OpenL3's does)
        model.body.input_bn.running_mean.fill_(-40.0)
        model.body.input_bn.running_var.fill_(300.0)
    return model


def audio(cfg, n: int = 5, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    t = np.arange(cfg.frontend.window_samples) / cfg.frontend.sample_rate
    x = [0.1 * rng.standard_normal(len(t)), 0.3 * np.sin(2 * np.pi * 440 * t),
         1e-3 * rng.standard_normal(len(t)), np.zeros(len(t)),
         0.2 * np.sin(2 * np.pi * 1500 * t) + 0.01 * rng.standard_normal(len(t))]
    return torch.tensor(np.stack(x[:n]), dtype=torch.float32)


def test_folded_conv_within_float32_bound():
    torch.manual_seed(1)
    conv = nn.Conv2d(16, 32, 3, padding=1)
    bn = randomise_bn(nn.BatchNorm2d(32, eps=BN_EPS))
    x = torch.randn(2, 16, 12, 10)
    folded = fold_conv_bn(conv, bn)
    with torch.no_grad():
        exact = bn.double()(conv.double()(x.double()))
        bound = nn.functional.conv2d(x.double().abs(), folded.weight.double().abs(), padding=1)
        bound = (16 * 9 + 2) * EPS32 * (bound + folded.bias.double().abs()[:, None, None])
        assert ((folded(x).double() - exact).abs() <= bound).all()


@pytest.mark.skipif(not onednn_available(torch.device("cpu")), reason="torch without oneDNN")
@pytest.mark.parametrize("c_in, activation", [(1, nn.ReLU()), (16, nn.ReLU()), (16, None),
                                              (16, nn.ReLU6())])
def test_onednn_conv_within_float32_bound(c_in, activation):
    """Same bound as a folded conv (clipping only moves values closer); the weights are packed
    for the first input's shape and must serve later batches of another size (a batch's last
    chunk) too."""
    torch.manual_seed(2)
    conv = nn.Conv2d(c_in, 24, 3, padding=1)
    fast = OneDNNConv(conv, activation, torch.float32)
    conv64 = conv.double()
    for x in (torch.randn(2, c_in, 12, 10) * 8, torch.randn(1, c_in, 12, 10) * 8):  # some > 6
        with torch.no_grad():
            exact = conv64(x.double())
            exact = exact if activation is None else activation(exact)
            bound = nn.functional.conv2d(x.double().abs(), conv64.weight.abs(), padding=1)
            bound = (c_in * 9 + 2) * EPS32 * (bound + conv64.bias.abs()[:, None, None])
            out = fast(x.contiguous(memory_format=torch.channels_last))
        assert out.shape == exact.shape
        assert ((out.double() - exact).abs() <= bound).all()


@pytest.mark.parametrize("h, w", [(8, 6), (9, 7), (25, 12)])
def test_maxpool_without_indices_is_exact(h, w):
    x = torch.randn(3, 4, h, w)
    expected = nn.functional.max_pool2d(x, 2, 2)
    assert torch.equal(MaxPool2x2()(x), expected)
    assert torch.equal(MaxPool2x2()(x.contiguous(memory_format=torch.channels_last)), expected)


@pytest.mark.parametrize("pool, final, chunk, nhwc", [(None, True, 2, False),
                                                      ((2, 3), False, 4, True)],
                         ids=["global-pool-nchw", "openl3-style-flatten-nhwc"])
def test_fast_body_matches_float64_model(pool, final, chunk, nhwc):
    model = tiny_model(pool, final)
    x = audio(model.cfg)
    with torch.inference_mode():
        logmel = model.frontend(x)
        exact = model.body.double()(logmel.double())
        model.body.float()
        plain = model.body(logmel).double()
        fast_model_ = FastL3(model, chunk=chunk, channels_last=nhwc)
        fast = torch.cat([fast_model_.body(p) for p in logmel.split(chunk)]).double()
        end_to_end = fast_model_(x)
    scale = exact.abs().max()
    assert fast.shape == exact.shape == (len(x), model.cfg.embedding_dim)
    assert (fast - exact).abs().max() <= 1e-4 * scale
    assert (plain - exact).abs().max() <= 1e-4 * scale
    assert torch.equal(end_to_end, fast.float())
    assert cosine(exact.numpy(), fast.numpy()).min() >= 0.99999


def heap_stats() -> tuple[int, int]:
    """(bytes mapped by mmap, bytes free in the heap) from glibc's mallinfo2()."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
            "fordblks", "keepcost")]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2
    info = libc.mallinfo2()
    return info.hblkhd, info.fordblks


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_freed_activation_buffers_stay_in_the_heap():
    """A 13 MB buffer (one OpenL3 activation map) comes from the heap, not a fresh mapping,
    and its memory is still in the heap after it is freed."""
    assert keep_freed_activations_in_heap()
    mapped_before, _ = heap_stats()
    buffer = torch.empty(13 << 20, dtype=torch.uint8)
    assert heap_stats()[0] - mapped_before < 1 << 20
    del buffer
    assert heap_stats()[1] >= 13 << 20


def test_fast_model_keeps_the_original_untouched():
    model = tiny_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast_model(model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def test_empty_batch():
    model = tiny_model()
    with torch.inference_mode():
        out = FastL3(model)(torch.zeros(0, model.cfg.frontend.window_samples))
    assert out.shape == (0, model.cfg.embedding_dim)


def test_bf16_within_target_of_float32():
    """bf16 keeps 8 mantissa bits (eps 2^-8): the issue's target is cosine >= 0.999 to
    float32; run here even where the CPU emulates bf16 (slowly, but the numbers are the same)."""
    model = tiny_model()
    x = audio(model.cfg)
    with torch.inference_mode():
        ref = FastL3(model)(x).numpy()
        low = FastL3(model, precision="bf16")(x).numpy()
    assert low.dtype == np.float32
    assert cosine(ref, low).min() >= 0.999


def test_bf16_refused_without_bf16_units():
    cpu = torch.device("cpu")
    with pytest.raises(PrecisionUnavailable, match="avx512_bf16 or amx_bf16, aarch64 flags bf16 and sve"):
        check_precision("bf16", cpu, flags={"avx2", "fma"})
    check_precision("bf16", cpu, flags={"avx512f", "avx512_bf16"})
    check_precision("bf16", cpu, flags={"amx_bf16"})
    check_precision("bf16", torch.device("cuda"), flags=set())
    check_precision("float32", cpu, flags=set())
    with pytest.raises(PrecisionUnavailable, match="not in"):
        check_precision("fp8", cpu, flags=set())


def test_embedder_refuses_bf16_on_a_cpu_without_bf16(monkeypatch):
    import training.inference as inference
    from training.embedder import Embedder

    monkeypatch.setattr(inference, "cpu_flags", lambda: {"avx2", "fma"})
    with pytest.raises(PrecisionUnavailable, match="^precision bf16 needs"):  # the parameter
        Embedder(tiny_model(), device="cpu", precision="bf16")
    assert Embedder(tiny_model(), device="cpu").precision == "float32"
