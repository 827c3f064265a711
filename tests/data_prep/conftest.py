"""Generated audio and miniature dataset layouts for the data_prep tests."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def _write_audio(path: Path, seconds: float = 0.5, sr: int = 16000, channels: int = 1,
                seed: int = 0, **kwargs) -> np.ndarray:
    """Write a noisy tone (seeded) and return what was written (frames x channels or 1-D)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    audio = 0.3 * np.sin(2 * np.pi * (220 + 50 * seed) * t) + 0.05 * rng.standard_normal(len(t))
    if channels > 1:
        audio = np.stack([audio * (c + 1) / channels for c in range(channels)], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, sr, **kwargs)
    return audio


def _write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(name="write_audio")
def write_audio_fixture():
    return _write_audio


@pytest.fixture(name="write_csv")
def write_csv_fixture():
    return _write_csv


@pytest.fixture
def mini_us8k(tmp_path) -> Path:
    root = tmp_path / "UrbanSound8K"
    rows = []
    for i, (cls, fold) in enumerate([("dog_bark", 1), ("siren", 1), ("siren", 2)]):
        name = f"{100 + i}-{i}-0-0.wav"
        _write_audio(root / "audio" / f"fold{fold}" / name, sr=22050, seed=i)
        rows.append({"slice_file_name": name, "fsID": 100 + i, "start": 0, "end": 0.5,
                     "salience": 1, "fold": fold, "classID": i, "class": cls})
    _write_csv(root / "metadata" / "UrbanSound8K.csv", rows)
    return tmp_path  # the parent, as soundata's data_home


@pytest.fixture
def mini_esc50(tmp_path) -> Path:
    root = tmp_path / "ESC-50-master"
    rows = []
    for i, (cat, esc10) in enumerate([("dog", "True"), ("rain", "True"), ("cow", "False")]):
        name = f"{i + 1}-{200 + i}-A-{i}.wav"
        _write_audio(root / "audio" / name, sr=44100, seed=i)
        rows.append({"filename": name, "fold": i + 1, "target": i, "category": cat,
                     "esc10": esc10, "src_file": 200 + i, "take": "A"})
    _write_csv(root / "meta" / "esc50.csv", rows)
    return root
