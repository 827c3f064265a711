"""Each source on a miniature copy of its dataset layout, through `prepare`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from data_prep.prepare import prepare
from data_prep.settings.prepare import PrepareSettings
from data_prep.sources import plan_sources
from data_prep.sources.sonyc_ust import quantized_time
from data_prep.sources.tables import read_rows
from data_prep.tasks import SourceError
from sea.store import ClipStore

SR = 16000


def _store(tmp_path, sources, **kwargs) -> ClipStore:
    out = tmp_path / "store"
    prepare(PrepareSettings(sources=tuple(sources), out=out, sample_rate=SR, progress=False,
                            **kwargs))
    return ClipStore(out)


def test_urbansound8k(tmp_path, mini_us8k):
    store = _store(tmp_path, [f"urbansound8k:{mini_us8k}"])
    rec = store.record("urbansound8k/102-2-0-0")
    assert (rec.dataset, rec.labels, rec.fold, rec.group) == (
        "UrbanSound8K", ("siren",), "2", "freesound:102")
    assert rec.num_samples == SR // 2
    assert store.manifest["folds"] == {"1": 2, "2": 1}


def test_esc50_and_esc10(tmp_path, mini_esc50):
    store = _store(tmp_path, [f"esc50:{mini_esc50.parent}", f"esc10:{mini_esc50}"])
    assert store.manifest["datasets"] == {"ESC-10": 2, "ESC-50": 3}
    rec = store.record("esc50/3-202-A-2")
    assert (rec.labels, rec.fold, rec.group) == (("cow",), "3", "freesound:202")


def test_sonyc_ust_votes_splits_sensors_and_time(tmp_path, write_audio, write_csv):
    root = tmp_path / "sonyc"
    base = {"sensor_id": "7", "year": "2019", "week": "10", "day": "2", "hour": "14"}
    coarse = ["1_engine_presence", "6_music_presence", "8_dog_presence"]
    rows = []

    def add(split, name, annotator, engine, music, dog):
        rows.append({"split": split, "audio_filename": name, "annotator_id": annotator,
                     **base, "1-1_small-sounding-engine_presence": engine,
                     **dict(zip(coarse, (engine, music, dog)))})

    add("train", "00_000001.wav", 12, 1, 0, 1)  # majority vote: engine 2/3, dog 1/3
    add("train", "00_000001.wav", 13, 1, 0, 0)
    add("train", "00_000001.wav", 14, 0, 1, 0)
    add("validate", "01_000002.wav", 15, 1, 1, 1)  # verified row (annotator 0) wins
    add("validate", "01_000002.wav", 0, 0, 1, -1)
    add("test", "02_000003.wav", 0, 0, 0, 0)  # listed, audio absent
    write_csv(root / "annotations.csv", rows)
    write_audio(root / "audio" / "00_000001.wav", sr=48000)
    write_audio(root / "audio-eval" / "01_000002.wav", sr=48000, seed=1)
    store = _store(tmp_path, [f"sonyc-ust:{root}"])
    a, b = store.record("sonyc-ust/00_000001"), store.record("sonyc-ust/01_000002")
    assert a.labels == ("engine",) and a.fold == "train"
    assert b.labels == ("music",) and b.fold == "validate"
    assert a.sensor_id == "7" and a.time == "2019-03-06T14:00:00"  # ISO week 10, Wednesday
    assert store.manifest["skipped"][0]["reason"].startswith("listed in annotations.csv")
    assert quantized_time({"year": "x"}) is None


def test_folder_labels_and_name_pattern(tmp_path, write_audio):
    src = tmp_path / "recordings"
    write_audio(src / "street" / "s01_20200105T101500.wav", seed=1)
    write_audio(src / "park" / "deep" / "s02_20200105T111500.flac", seed=2)
    write_audio(src / "loose.wav", seed=3)
    write_audio(src / ".hidden" / "x.wav", seed=4)
    store = _store(tmp_path, [f"folder:{src}"], folder_labels=True,
                   name_pattern=r"(?P<sensor>s\d+)_(?P<time>\w+)", time_format="%Y%m%dT%H%M%S")
    assert len(store) == 3
    rec = store.record("recordings/park/deep/s02_20200105T111500.flac")
    assert rec.labels == ("park",) and rec.sensor_id == "s02"
    assert rec.time == "2020-01-05T11:15:00"
    assert store.record("recordings/loose.wav").labels == ()


def test_urban_eval_layout(tmp_path, write_audio, write_csv):
    root = tmp_path / "urban-eval"
    rows = []
    for i, (ds, label, fold) in enumerate([("ESC-10", "dog", 1), ("UrbanSound8K", "siren", 1)]):
        rel = f"audio/{'esc10' if i == 0 else 'us8k'}/clip{i}.flac"
        write_audio(root / rel, sr=22050, seed=i)
        rows.append({"file": rel, "dataset": ds, "original_file": "x", "label": label,
                     "fold": fold, "duration_s": 0.5, "license": "CC0", "source_id": f"fs:{i}",
                     "source_repo": "r"})
    rows.append({**rows[0], "file": "../escape.flac"})
    write_csv(root / "metadata.csv", rows)
    store = _store(tmp_path, [f"urban-eval:{root}"])
    assert [r.clip_id for r in store.records] == ["urban-eval/esc10/clip0", "urban-eval/us8k/clip1"]
    assert store.record("urban-eval/us8k/clip1").labels == ("siren",)
    assert store.record("urban-eval/esc10/clip0").group == "fs:0"
    [skipped] = store.manifest["skipped"]
    assert skipped["path"] == "../escape.flac" and "climbs out with '..'" in skipped["reason"]


def test_shared_urban_eval_plan(urban_eval_dir):
    plan = plan_sources([f"urban-eval:{urban_eval_dir}"])
    assert len(plan.tasks) == 503 and not plan.problems
    datasets = {t.dataset for t in plan.tasks}
    assert datasets == {"ESC-10", "UrbanSound8K"}
    assert len({t.clip_id for t in plan.tasks}) == 503
    assert sorted({t.fold for t in plan.tasks if t.dataset == "ESC-10"}) == list("12345")


@pytest.mark.parametrize("spec", ["nope:x", "folder", "synth:x", "synth:3:1:2"])
def test_bad_specs_raise(tmp_path, spec):
    with pytest.raises(SourceError):
        plan_sources([spec])


def test_missing_dataset_folder_is_clear(tmp_path):
    with pytest.raises(SourceError, match="metadata/UrbanSound8K.csv"):
        plan_sources([f"urbansound8k:{tmp_path}"])


def test_shared_urban_eval_audio_decodes_to_its_duration(urban_eval_dir):
    from data_prep.decode import decoded_blocks

    plan = plan_sources([f"urban-eval:{urban_eval_dir}"])
    rows = {r["file"]: r for r in read_rows(urban_eval_dir / "metadata.csv", ("file",))}
    for dataset in ("ESC-10", "UrbanSound8K"):
        task = next(t for t in plan.tasks if t.dataset == dataset)
        audio = np.concatenate(list(decoded_blocks(task.path, SR)))
        rel = str(Path(task.path).relative_to(urban_eval_dir))
        assert len(audio) == pytest.approx(float(rows[rel]["duration_s"]) * SR, rel=0.01)
        assert task.labels == (rows[rel]["label"],) and task.fold == rows[rel]["fold"]
