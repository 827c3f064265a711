"""Load Keras .h5 weight files (OpenL3, EdgeL3 SEA) into L3Net with h5py only.

Keras' own load_weights matches weighted layers by their stored order, so we do the same: the
file's weighted layer groups, in order, are paired with the torch layers in forward order,
and every shape is checked. Both file layouts are read: full-model saves (weights under
/model_weights, EdgeL3) and weights-only saves (layer_names at the root, OpenL3).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import torch
from torch import nn

from sea.errors import SeaError, reading
from training.frontend import windowed_dft_kernels
from training.model import L3Net

BN_KEYS = ("gamma", "beta", "moving_mean", "moving_variance")
# The stored EdgeL3 DFT kernels equal the formula to float32 round-off (PROVENANCE.md).
DFT_KERNEL_TOLERANCE = 1e-5


class WeightFileMismatch(SeaError, ValueError):
    """The .h5 file does not fit the model config; the message names the first mismatch."""


def _short(name: str) -> str:
    return name.split("/")[-1].split(":")[0]


def read_keras_layers(path: str | Path) -> list[tuple[str, dict[str, np.ndarray]]]:
    """[(layer_name, {weight_short_name: array})] for weighted layers, in stored order."""
    with reading(path, "Keras .h5 weight file"):
        f = h5py.File(path, "r")
    with f:
        root = f["model_weights"] if "model_weights" in f else f
        if "layer_names" not in root.attrs:
            raise WeightFileMismatch(f"{path}: no 'layer_names' attribute; not a Keras weight file")
        layers = []
        for raw in root.attrs["layer_names"]:
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            group = root[name]
            weight_names = [w.decode() if isinstance(w, bytes) else str(w)
                            for w in group.attrs.get("weight_names", [])]
            if weight_names:
                layers.append((name, {_short(w): np.asarray(group[w]) for w in weight_names}))
        return layers


def _torch_targets(model: L3Net) -> list[tuple[str, nn.Module]]:
    """Weighted torch layers in the order Keras stores them."""
    return [(kind, m) for m in model.body.modules()
            for kind in [("conv" if isinstance(m, nn.Conv2d) else
                          "bn" if isinstance(m, nn.BatchNorm2d) else None)] if kind]


def _kind_of(weights: dict[str, np.ndarray]) -> str:
    if "real_kernels" in weights:
        return "frontend"
    if set(BN_KEYS) <= set(weights):
        return "bn"
    if "kernel" in weights:
        return "conv"
    return "unknown(" + ",".join(weights) + ")"


def _load_frontend(model: L3Net, layer: str, weights: dict[str, np.ndarray]) -> None:
    n_fft = model.cfg.frontend.n_fft
    for key, expected in zip(("real_kernels", "imag_kernels"), windowed_dft_kernels(n_fft)):
        stored = weights[key].reshape(weights[key].shape[0], -1).T
        if stored.shape != expected.shape:
            raise WeightFileMismatch(
                f"{layer}: {key} {weights[key].shape} do not fit n_fft={n_fft}")
        err = float(np.abs(stored - expected).max())
        if err > DFT_KERNEL_TOLERANCE:
            raise WeightFileMismatch(
                f"{layer}: stored {key} differ from a Hann-windowed DFT by {err}")
    mel = [v for key, v in weights.items() if key not in ("real_kernels", "imag_kernels")]
    if mel:
        try:
            model.frontend.set_mel_basis(mel[0])
        except ValueError as exc:
            raise WeightFileMismatch(f"{layer}: {exc}") from None


def load_keras_weights(model: L3Net, path: str | Path) -> None:
    """Copy every weight of the .h5 file into `model`, or raise WeightFileMismatch."""
    layers = read_keras_layers(path)
    targets = _torch_targets(model)
    if layers and _kind_of(layers[0][1]) == "frontend":
        _load_frontend(model, *layers[0])
        layers = layers[1:]
    if len(layers) != len(targets):
        raise WeightFileMismatch(
            f"{path}: {len(layers)} weighted layers in the file, the {model.cfg.name} config "
            f"has {len(targets)}")
    with torch.no_grad():
        for (layer, weights), (kind, module) in zip(layers, targets):
            found = _kind_of(weights)
            if found != kind:
                raise WeightFileMismatch(f"{path}: layer {layer} is {found}, expected {kind}")
            if kind == "conv":
                pairs = [("kernel", module.weight, (3, 2, 0, 1)), ("bias", module.bias, None)]
            else:
                pairs = [("gamma", module.weight, None), ("beta", module.bias, None),
                         ("moving_mean", module.running_mean, None),
                         ("moving_variance", module.running_var, None)]
            for key, param, perm in pairs:
                value = weights[key].transpose(perm) if perm else weights[key]
                if tuple(value.shape) != tuple(param.shape):
                    raise WeightFileMismatch(
                        f"{path}: {layer}/{key} has shape {weights[key].shape}, the "
                        f"{model.cfg.name} config needs {tuple(param.shape)} (after layout change)")
                param.copy_(torch.from_numpy(np.ascontiguousarray(value)))
