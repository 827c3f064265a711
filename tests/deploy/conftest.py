"""Tiny exported bundles shared by the deploy tests (conversion is the slow part: once each)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

TINY_FILTERS = (4, 8, 8, 16)
STORE_RATE = 16000


def write_tiny_checkpoint(path: Path, seed: int = 0, final_bn_relu: bool = True) -> Path:
    """A random tiny student with non-trivial BatchNorm statistics, as a checkpoint dir
    (`final_bn_relu=False`: a linear last layer, as students of PCA targets have)."""
    import dataclasses

    import torch

    from sea.configs import custom_config
    from training.checkpoint import save_checkpoint
    from training.model import L3Net

    torch.manual_seed(seed)
    model = L3Net(dataclasses.replace(custom_config(TINY_FILTERS, name="tiny"),
                                      final_bn_relu=final_bn_relu))
    with torch.no_grad():
        # the input BN sees dB in [-80, 0]: centre it as a trained model would
        model.body.input_bn.running_mean.fill_(-40.0)
        model.body.input_bn.running_var.fill_(400.0)
    save_checkpoint(path, model.eval())
    return path


def checkpoint_id(checkpoint: Path) -> str:
    """The model id `sea head fit` and `sea export` give a checkpoint."""
    from sea.models import model_id, parse_model

    return model_id(parse_model(str(checkpoint)))


def write_head(path: Path, dim: int, model_id: str, labels=("siren", "engine", "dog")) -> Path:
    """A head directory (sea.head) with random weights, as if fitted on `model_id`."""
    from sea.head import write_head as write_artifact

    rng = np.random.default_rng(0)
    path.mkdir(parents=True, exist_ok=True)
    write_artifact(path, {"weights_0": rng.standard_normal((dim, 8)).astype(np.float32),
                          "bias_0": np.zeros(8, np.float32),
                          "weights_1": rng.standard_normal((8, len(labels))).astype(np.float32),
                          "bias_1": np.zeros(len(labels), np.float32),
                          "labels": np.array(labels), "activation": np.array("sigmoid")},
                   {}, model_id=model_id, pooling="mean", period_seconds=2.0)
    return path


def write_store(path: Path, clips: int = 6, seconds: float = 3.0) -> Path:
    from sea.store import StoreWriter

    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * STORE_RATE)) / STORE_RATE
    with StoreWriter(path, sample_rate=STORE_RATE) as writer:
        for i in range(clips):
            audio = (rng.uniform(0.01, 0.5) * np.sin(2 * np.pi * rng.uniform(100, 3000) * t)
                     + rng.uniform(0.001, 0.05) * rng.standard_normal(len(t)))
            writer.add(f"gen/{i}", audio.astype(np.float32), source=f"gen{i}", dataset="gen",
                       labels=(), fold=None)
    return path


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny")


@pytest.fixture(scope="session")
def other_checkpoint(tmp_path_factory) -> Path:
    """Same architecture, different weights: its outputs must not pass for tiny's."""
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "other", seed=1)


@pytest.fixture(scope="session")
def linear_checkpoint(tmp_path_factory) -> Path:
    """A tiny student with a linear last layer (as students of PCA targets end)."""
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "linear", final_bn_relu=False)


@pytest.fixture(scope="session")
def head_dir(tmp_path_factory, tiny_checkpoint) -> Path:
    return write_head(tmp_path_factory.mktemp("head") / "head", TINY_FILTERS[-1],
                      checkpoint_id(tiny_checkpoint))


@pytest.fixture(scope="session")
def float_bundle(tmp_path_factory, tiny_checkpoint, head_dir) -> Path:
    """Both graph variants, float32, with a classifier head, through the exporter API."""
    from deploy.exporter import export_bundle
    from deploy.representative import generated_windows
    from deploy.settings.export import ExportSettings
    from training.checkpoint import build_model

    out = tmp_path_factory.mktemp("bundles") / "float"
    model = build_model(str(tiny_checkpoint), dft_mode="matmul")
    export_bundle(ExportSettings(model=str(tiny_checkpoint), out=out, head=head_dir), model,
                  generated_windows(8000, 12))
    return out


@pytest.fixture(scope="session")
def int8_bundle(tmp_path_factory, tiny_checkpoint) -> Path:
    """Both variants, int8, calibrated on a clip store, through the `sea export` CLI."""
    from sea.cli import main

    root = tmp_path_factory.mktemp("int8")
    store = write_store(root / "store")
    out = root / "bundle"
    code = main(["export", str(tiny_checkpoint), "--out", str(out), "--quantize", "int8",
                 "--frontend", "both", "--calibration", str(store),
                 "--calibration-windows", "12", "--parity-windows", "6"])
    assert code == 0
    return out


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory) -> Path:
    """Two good files (model rate and 16 kHz), one corrupt, one empty, one non-audio."""
    root = tmp_path_factory.mktemp("audio")
    rng = np.random.default_rng(3)
    sf.write(root / "a_8k.wav", (0.2 * rng.standard_normal(8000 * 3 + 123)).astype(np.float32),
             8000, subtype="FLOAT")
    t = np.arange(int(16000 * 2.3)) / 16000
    sf.write(root / "b_16k.flac", 0.3 * np.sin(2 * np.pi * 700 * t), 16000)
    (root / "c_corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    (root / "d_empty.wav").write_bytes(b"")
    (root / "notes.txt").write_text("not audio")
    return root



@pytest.fixture(scope="session")
def calibration_store(tmp_path_factory) -> Path:
    return write_store(tmp_path_factory.mktemp("calibration") / "store")
