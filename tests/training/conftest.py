"""Tiny generated clip stores and a tiny random teacher for the training tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sea.store import StoreWriter

STORE_RATE = 16000


def synth_clip(rng: np.random.Generator, seconds: float, sr: int = STORE_RATE) -> np.ndarray:
    """A few tones with moving pitch and level over coloured noise: varied, learnable content."""
    t = np.arange(int(seconds * sr)) / sr
    x = 0.02 * rng.standard_normal(len(t)) * rng.uniform(0.1, 1.0)
    for _ in range(rng.integers(1, 4)):
        f0, f1 = rng.uniform(100, 3500, size=2)
        phase = 2 * np.pi * np.cumsum(np.linspace(f0, f1, len(t))) / sr
        envelope = np.abs(np.sin(2 * np.pi * rng.uniform(0.1, 1.5) * t + rng.uniform(0, 6)))
        x += rng.uniform(0.02, 0.4) * envelope * np.sin(phase)
    return x.astype(np.float32)


def tone_clip(rng: np.random.Generator, seconds: float, sr: int = STORE_RATE) -> np.ndarray:
    """One steady tone of random pitch and level over faint noise: a smooth, learnable map."""
    t = np.arange(int(seconds * sr)) / sr
    x = rng.uniform(0.05, 0.5) * np.sin(2 * np.pi * rng.uniform(150, 3500) * t)
    return (x + 0.005 * rng.standard_normal(len(t))).astype(np.float32)


def write_store(path: Path, clips: int = 12, seconds: float = 3.0, seed: int = 0,
                sensors: bool = False, steady: bool = False) -> Path:
    rng = np.random.default_rng(seed)
    make = tone_clip if steady else synth_clip
    with StoreWriter(path, sample_rate=STORE_RATE) as writer:
        for i in range(clips):
            writer.add(f"synth/{i:03d}", make(rng, seconds), source=f"gen{i}",
                       dataset="synth", labels=(f"c{i % 3}",), fold=str(i % 4 + 1),
                       sensor_id=f"s{i % 2}" if sensors else None,
                       time=f"2026-01-0{i % 3 + 1}T00:00:00Z" if sensors else None)
    return path


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory) -> Path:
    return write_store(tmp_path_factory.mktemp("store") / "store")


def write_teacher(path: Path, filters: tuple[int, int, int, int] = (8, 16, 16, 16)) -> Path:
    """A seeded random-weight L3 network saved as a checkpoint directory."""
    import torch

    from sea.configs import custom_config
    from training.checkpoint import save_checkpoint
    from training.model import L3Net

    torch.manual_seed(0)
    model = L3Net(custom_config(filters, name="tiny-teacher"))
    # Calibrate BatchNorm statistics on generated audio, as training would, so the random
    # teacher's embeddings have a realistic spread rather than collapsing near zero.
    rng = np.random.default_rng(99)
    windows = np.stack([synth_clip(rng, 1.0, 8000) for _ in range(64)])
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None
    with torch.no_grad():
        model.train()(torch.from_numpy(windows))
    save_checkpoint(path, model.eval())
    return path


@pytest.fixture(scope="session")
def tiny_teacher(tmp_path_factory) -> Path:
    return write_teacher(tmp_path_factory.mktemp("teacher") / "teacher")


@pytest.fixture(scope="session")
def make_store():
    """The `write_store` helper, for tests that need a store of their own shape."""
    return write_store


@pytest.fixture(scope="session")
def embed_store_cli(tiny_store, tiny_teacher):
    """Run `sea teacher-embed` of the tiny teacher over `store` (default: the tiny store)."""
    from sea.cli import main

    def run(out: Path, hop: float, *extra: str, store: Path | None = None) -> Path:
        assert main(["teacher-embed", str(store or tiny_store), "--teacher", str(tiny_teacher),
                     "--out", str(out), "--hop", str(hop), "--threads", "1", *extra]) == 0
        return out

    return run


@pytest.fixture(scope="session")
def fine_pipeline(make_store, embed_store_cli, tmp_path_factory):
    """12 clips of 2 s -> tiny-teacher embeddings and block features at a 0.25 s hop ->
    identity targets: (store, reducer dir, embedding dir), for the distillation-objective tests."""
    from sea.cli import main

    root = tmp_path_factory.mktemp("kd")
    store = make_store(root / "store", clips=12, seconds=2.0)
    embed_store_cli(root / "emb", 0.25, "--block-features", store=store)
    assert main(["reduce", str(root / "emb"), "--reducer", "identity", "--out",
                 str(root / "red")]) == 0
    return store, root / "red", root / "emb"


@pytest.fixture(scope="session")
def steady_pipeline(make_store, embed_store_cli, tmp_path_factory):
    """Store of 96 steady-tone clips -> tiny-teacher embeddings -> identity targets:
    (store, reducer dir), for the distillation tests."""
    from sea.cli import main

    root = tmp_path_factory.mktemp("steady")
    store = make_store(root / "store", clips=96, seconds=1.5, steady=True)
    embed_store_cli(root / "emb", 0.5, store=store)
    assert main(["reduce", str(root / "emb"), "--reducer", "identity", "--out",
                 str(root / "red")]) == 0
    return store, root / "red"
