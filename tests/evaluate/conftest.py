"""Generated labelled clip stores and a tiny random student for the evaluation tests.

Audio: 'tone' clips hold a 1 kHz sine (trivially separable); 'noise_a' and 'noise_b' clips are
white noise from the same distribution (their labels are noise: only chance can tell them apart).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sea.store import StoreWriter

SR = 8000


def make_clip(kind: str, rng: np.random.Generator, seconds: float = 1.0) -> np.ndarray:
    n = int(seconds * SR)
    noise = 0.1 * rng.standard_normal(n)
    if kind == "tone":
        t = np.arange(n) / SR
        tone = 0.5 * np.sin(2 * np.pi * 1000 * t + rng.uniform(0, 2 * np.pi))
        return (tone + 0.1 * noise).astype(np.float32)
    return noise.astype(np.float32)


def write_single_label_store(path: Path, folds: tuple[str, ...] = ("1", "2", "3", "4", "5"),
                             per_class: int = 4, dataset: str = "toy", seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    with StoreWriter(path, sample_rate=SR) as writer:
        for fold in folds:
            for label in ("tone", "noise_a", "noise_b"):
                for k in range(per_class):
                    writer.add(f"{dataset}/{fold}-{label}-{k}", make_clip(label, rng),
                               source="generated", dataset=dataset, labels=(label,), fold=fold)
    return path


def write_multilabel_store(path: Path, clips_per_split: int = 40, seed: int = 0) -> Path:
    """'tone' is present in half the clips (audible); 'random' is a coin flip per clip."""
    rng = np.random.default_rng(seed)
    with StoreWriter(path, sample_rate=SR) as writer:
        for split in ("train", "validate", "test"):
            for k in range(clips_per_split):
                has_tone = k % 2 == 0
                labels = ("tone",) * has_tone + ("random",) * bool(rng.random() < 0.5)
                writer.add(f"ust/{split}-{k}", make_clip("tone" if has_tone else "noise", rng),
                           source="generated", dataset="sonyc-ust", labels=labels, fold=split)
    return path


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """`sea evaluate --threads` sets torch's process-wide thread count: undo it after a test."""
    try:
        import torch
    except ImportError:
        yield
        return
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def toy_store(tmp_path_factory) -> Path:
    return write_single_label_store(tmp_path_factory.mktemp("stores") / "toy")


@pytest.fixture(scope="session")
def ust_store(tmp_path_factory) -> Path:
    return write_multilabel_store(tmp_path_factory.mktemp("stores") / "ust")


@pytest.fixture(scope="session")
def tiny_student(tmp_path_factory) -> Path:
    """A student checkpoint with 4-4-8-8 filters and seeded random weights."""
    torch = pytest.importorskip("torch")
    from sea.configs import custom_config
    from training.checkpoint import save_checkpoint
    from training.model import L3Net

    torch.manual_seed(0)
    model = L3Net(custom_config((4, 4, 8, 8), name="tiny")).eval()
    directory = tmp_path_factory.mktemp("models") / "tiny"
    save_checkpoint(directory, model)
    return directory


@pytest.fixture
def single_label_store_at():
    """write_single_label_store(path, folds, per_class, dataset, seed) for custom stores."""
    return write_single_label_store
