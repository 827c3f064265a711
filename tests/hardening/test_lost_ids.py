"""Ids never collide silently: clashing clip ids and output files are refused, naming both;
`sea embed` never takes an output made by another model or settings as done."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from lost_support import STORE_RATE, sea, tone, write_wavs
from sea.manifest import read_manifest


def prepare(out, *sources) -> int:
    return sea("prepare", *sources, "--out", out, "--sample-rate", "16000", "--no-progress")


def test_two_folders_with_one_name_are_refused_naming_both(tmp_path, caplog):
    a = write_wavs(tmp_path / "a" / "rec", 1)
    b = write_wavs(tmp_path / "b" / "rec", 1)
    assert prepare(tmp_path / "store", f"folder:{a}", f"folder:{b}") == 2
    assert str(a / "clip0.wav") in caplog.text and str(b / "clip0.wav") in caplog.text
    assert "'rec/clip0.wav'" in caplog.text
    assert not (tmp_path / "store" / "manifest.json").exists()


def test_the_same_source_twice_is_one_clip(tmp_path):
    a = write_wavs(tmp_path / "rec", 2)
    assert prepare(tmp_path / "store", f"folder:{a}", f"folder:{a}") == 0
    manifest = read_manifest(tmp_path / "store")
    assert manifest["clips"] == 2 and manifest["skipped"] == []


def test_a_later_source_with_a_stored_id_is_refused(tmp_path, caplog):
    a = write_wavs(tmp_path / "a" / "rec", 1)
    b = write_wavs(tmp_path / "b" / "rec", 1)
    assert prepare(tmp_path / "store", f"folder:{a}") == 0
    assert prepare(tmp_path / "store", f"folder:{b}") == 2  # would be 'already stored'
    assert "already holds from" in caplog.text and str(a / "clip0.wav") in caplog.text
    assert read_manifest(tmp_path / "store")["clips"] == 1


def _esc50(root, rows: list[str]):
    (root / "meta").mkdir(parents=True)
    (root / "audio").mkdir()
    (root / "meta" / "esc50.csv").write_text(
        "filename,fold,target,category,esc10,src_file,take\n" + "\n".join(rows) + "\n")
    for name in {r.split(",")[0] for r in rows}:
        sf.write(root / "audio" / name, tone(0.5, 440), STORE_RATE)
    return root


@pytest.mark.parametrize("rows, message", [
    (["1-1-A-0.wav,1,0,dog,True,1,A", "1-1-A-0.wav,1,1,rooster,False,1,A"],
     "listed twice with different metadata"),
    (["1-1-A-0.wav,1,0,dog,True,1,A", "1-1-A-0.flac,1,0,dog,True,1,A"],
     "both map to clip id 'esc50/1-1-A-0'"),
])
def test_two_metadata_rows_with_one_stem_are_refused(tmp_path, caplog, rows, message):
    root = _esc50(tmp_path / "ESC-50", rows)
    assert prepare(tmp_path / "store", f"esc50:{root}") == 2
    assert message in caplog.text


def test_identical_duplicate_rows_are_one_clip(tmp_path):
    root = _esc50(tmp_path / "ESC-50", ["1-1-A-0.wav,1,0,dog,True,1,A"] * 2)
    assert prepare(tmp_path / "store", f"esc50:{root}") == 0
    assert read_manifest(tmp_path / "store")["clips"] == 1


@pytest.fixture
def student(tmp_path_factory):
    import torch

    from sea.configs import custom_config
    from training.checkpoint import save_checkpoint
    from training.model import L3Net

    root = tmp_path_factory.mktemp("students")
    for seed in (0, 1):
        torch.manual_seed(seed)
        save_checkpoint(root / f"s{seed}", L3Net(custom_config((4, 8, 8, 8), name="s")).eval())
    return root


def test_embed_inputs_that_share_an_output_are_refused(tmp_path, student, caplog):
    a = write_wavs(tmp_path / "a", 1)
    b = write_wavs(tmp_path / "b", 1)
    out = tmp_path / "out"
    assert sea("embed", a, b, "--model", student / "s0", "--output-dir", out) == 2
    assert str(a / "clip0.wav") in caplog.text and str(b / "clip0.wav") in caplog.text
    assert not list(out.glob("*.npz")) if out.exists() else True
    side = tmp_path / "side"
    side.mkdir()
    sf.write(side / "x.wav", tone(1.0, 300), STORE_RATE)
    sf.write(side / "x.flac", tone(1.0, 500), STORE_RATE)
    assert sea("embed", side, "--model", student / "s0") == 2
    assert "x.npz" in caplog.text and not (side / "x.npz").exists()


def test_embed_records_its_producer_and_never_trusts_another(tmp_path, student, caplog):
    wavs = write_wavs(tmp_path / "in", 1)
    out = tmp_path / "out"
    argv = ["embed", wavs, "--output-dir", out, "--hop", "0.5"]
    assert sea(*argv, "--model", student / "s0") == 0
    with np.load(out / "clip0.npz") as data:
        settings = json.loads(str(data["settings_json"]))
        model_id = str(data["model_id"])
        first = data["embedding"].copy()
    assert settings["hop"] == 0.5 and settings["model_id"] == model_id
    assert sea(*argv, "--model", student / "s0") == 0  # same model and settings: done
    caplog.clear()
    assert sea(*argv, "--model", student / "s1") == 1  # same name, other weights
    assert "differs in model_id" in caplog.text
    assert sea("embed", wavs, "--output-dir", out, "--hop", "0.25",
               "--model", student / "s0") == 1
    assert "hop" in caplog.text
    with np.load(out / "clip0.npz") as data:
        np.testing.assert_array_equal(data["embedding"], first)  # nothing replaced
    assert sea(*argv, "--model", student / "s1", "--overwrite") == 0
    with np.load(out / "clip0.npz") as data:
        assert not np.array_equal(data["embedding"], first)
