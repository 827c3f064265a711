"""`sea prepare folder:PATH --folds N|by-sensor|by-day`: one recording never spans two folds."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from sea.cli import main
from sea.store import ClipStore

PATTERN = r"(?P<sensor>s\d)_(?P<recording>rec-[^_]+)_(?P<time>\d{8}T\d{6})_part\d"
TIME_FORMAT = "%Y%m%dT%H%M%S"


@pytest.fixture
def recordings(tmp_path):
    """3 sensors x 2 days x 1 recording each, every recording cut into 3 segment files."""
    root = tmp_path / "rec"
    root.mkdir()
    tone = (0.1 * np.sin(np.arange(4000) / 3)).astype(np.float32)
    for sensor in ("s1", "s2", "s3"):
        for day in ("20240101", "20240102"):
            for part in range(3):
                name = f"{sensor}_rec-{sensor}-{day}_{day}T0{part}0000_part{part}.wav"
                sf.write(root / name, tone, 8000)
    return root


def _prepare(tmp_path, recordings, folds: str, pattern: str = PATTERN) -> ClipStore:
    out = tmp_path / f"store-{folds}"
    assert main(["prepare", f"folder:{recordings}", "--out", str(out), "--sample-rate", "8000",
                 "--name-pattern", pattern, "--time-format", TIME_FORMAT, "--folds", folds,
                 "--no-progress"]) == 0
    return ClipStore(out)


def _folds_of(store: ClipStore, key) -> dict[str, set[str]]:
    spans: dict[str, set[str]] = {}
    for r in store.records:
        spans.setdefault(key(r), set()).add(r.fold)
    return spans


def test_n_folds_keep_every_segment_of_a_recording_together(tmp_path, recordings):
    store = _prepare(tmp_path, recordings, "3")
    assert {r.fold for r in store.records} <= {"1", "2", "3"}
    # 6 recordings of 3 segments each (their time and part differ, their recording id not)
    by_recording = _folds_of(store, lambda r: r.source.rsplit("/", 1)[-1].split("_")[1])
    assert len(by_recording) == 6 and all(len(f) == 1 for f in by_recording.values())
    assert len({r.fold for r in store.records}) > 1


def test_by_sensor_and_by_day(tmp_path, recordings):
    sensors = _prepare(tmp_path, recordings, "by-sensor")
    assert {r.fold for r in sensors.records} == {"s1", "s2", "s3"}
    assert all(r.fold == r.sensor_id for r in sensors.records)
    days = _prepare(tmp_path, recordings, "by-day")
    assert {r.fold for r in days.records} == {"2024-01-01", "2024-01-02"}


def test_missing_sensor_or_bad_value_is_a_clear_error(tmp_path, recordings, caplog):
    out = tmp_path / "nosensor"
    assert main(["prepare", f"folder:{recordings}", "--out", str(out), "--folds", "by-sensor",
                 "--no-progress"]) == 2
    assert "have no sensor" in caplog.text
    # a bad value is an argparse usage error: exit 2, nothing written
    assert main(["prepare", f"folder:{recordings}", "--out", str(out), "--folds", "1"]) == 2
