"""Names read from dataset metadata and artifact manifests stay inside their root: `..`,
absolute paths and symlinks leading out are refused with a logged reason, never opened."""

from __future__ import annotations

import csv
import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sea.paths import UnsafePath, confined
from untrusted_payloads import write_fake_bundle


def _wav(path: Path, seconds: float = 0.5) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.1 * np.ones(int(8000 * seconds), np.float32), 8000)
    return path


def _csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def outside(tmp_path) -> Path:
    """A readable audio file beside (not inside) the dataset: it must never be stored."""
    return _wav(tmp_path / "secret.wav")


@pytest.mark.parametrize("name, reason", [
    ("../secret.wav", "'..'"), ("a/../../secret.wav", "'..'"), ("/etc/passwd", "absolute"),
    ("..\\secret.wav", "'..'"), ("C:\\Windows\\win.ini", "absolute"), ("", "empty"),
    ("a\0b", "NUL"),
])
def test_confined_refuses_names_leading_out(tmp_path, name, reason):
    (tmp_path / "root").mkdir()
    with pytest.raises(UnsafePath, match=reason):
        confined(tmp_path / "root", name, "row")


def test_confined_follows_symlinks(tmp_path, outside):
    root = tmp_path / "root"
    _wav(root / "audio" / "real.wav")
    (root / "audio" / "out.wav").symlink_to(outside)
    (root / "audio" / "inside.wav").symlink_to(root / "audio" / "real.wav")
    (root / "linked_dir").symlink_to(tmp_path)
    assert confined(root, "audio/inside.wav") == root / "audio" / "inside.wav"
    assert confined(root, "audio/real.wav") == root / "audio" / "real.wav"
    for name in ("audio/out.wav", "linked_dir/secret.wav"):
        with pytest.raises(UnsafePath, match="symbolic link leading outside"):
            confined(root, name)


def _esc50(root: Path, outside: Path) -> list[str]:
    _wav(root / "audio" / "1-1-A-0.wav")
    (root / "audio" / "1-2-A-0.wav").symlink_to(outside)
    names = ["1-1-A-0.wav", "../../secret.wav", str(outside), "1-2-A-0.wav"]
    _csv(root / "meta" / "esc50.csv", [
        {"filename": n, "fold": 1, "target": 0, "category": "dog", "esc10": "True",
         "src_file": i, "take": "A"} for i, n in enumerate(names)])
    return names


def _us8k(root: Path, outside: Path) -> list[str]:
    _wav(root / "audio" / "fold1" / "1-0-0-0.wav")
    (root / "audio" / "fold1" / "2-0-0-0.wav").symlink_to(outside)
    rows = [("1-0-0-0.wav", "1"), ("../../../secret.wav", "1"), ("secret.wav", "1/../../.."),
            ("2-0-0-0.wav", "1")]
    _csv(root / "metadata" / "UrbanSound8K.csv", [
        {"slice_file_name": n, "fsID": i, "fold": f, "class": "siren", "classID": 8}
        for i, (n, f) in enumerate(rows)])
    return [n for n, _ in rows]


def _urban_eval(root: Path, outside: Path) -> list[str]:
    _wav(root / "audio" / "us8k" / "ok.wav")
    (root / "audio" / "us8k" / "link.wav").symlink_to(outside)
    names = ["audio/us8k/ok.wav", "../secret.wav", str(outside), "audio/us8k/link.wav"]
    _csv(root / "metadata.csv", [{"file": n, "dataset": "UrbanSound8K", "label": "siren",
                                  "fold": 1} for n in names])
    return names


def _sonyc(root: Path, outside: Path) -> list[str]:
    _wav(root / "audio" / "00_000001.wav")
    (root / "audio" / "00_000002.wav").symlink_to(outside)
    _csv(root / "annotations.csv", [
        {"split": "train", "sensor_id": 1, "audio_filename": n, "annotator_id": 0,
         "1_engine_presence": 1} for n in ("00_000001.wav", "00_000002.wav")])
    return ["00_000001.wav", "00_000002.wav"]


@pytest.mark.parametrize("source, make, refused", [
    ("esc50", _esc50, 3), ("urbansound8k", _us8k, 3), ("urban-eval", _urban_eval, 3),
    ("sonyc-ust", _sonyc, 1)])
def test_metadata_rows_leading_out_are_skipped_and_logged(tmp_path, outside, caplog, source,
                                                          make, refused):
    from data_prep.prepare import prepare
    from data_prep.settings.prepare import PrepareSettings
    from sea.store import ClipStore

    root = tmp_path / "dataset"
    make(root, outside)
    with caplog.at_level(logging.WARNING):
        prepare(PrepareSettings(sources=(f"{source}:{root}",), out=tmp_path / "store",
                                sample_rate=8000, progress=False))
    store = ClipStore(tmp_path / "store")
    assert len(store) == 1 and store.records[0].source.startswith(str(root))
    skipped = [json.loads(line) for line in (tmp_path / "store" / "skipped.jsonl").open()]
    assert len(skipped) == refused
    assert all("outside" in s["reason"] or "'..'" in s["reason"] or "absolute" in s["reason"]
               for s in skipped)
    assert sum("row skipped" in r.getMessage() for r in caplog.records) == refused


@pytest.mark.parametrize("field, name", [("variant", "../model.tflite"),
                                         ("variant", "/etc/passwd"), ("head", "../head.npz")])
def test_bundle_manifest_names_leading_out_are_refused(tmp_path, field, name):
    from sea.bundle import Bundle, BundleError

    bundle = write_fake_bundle(tmp_path / "bundle")
    manifest = json.loads((bundle / "manifest.json").read_text())
    entry = manifest["variants"]["outside"] if field == "variant" else manifest["head"]
    manifest["files"][name] = manifest["files"].pop(entry["file"])
    entry["file"] = name
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="refusing bundle.*(outside|'..'|absolute)"):
        Bundle(bundle)


def test_bundle_file_symlinked_out_is_refused(tmp_path):
    from sea.bundle import Bundle, BundleError

    bundle = write_fake_bundle(tmp_path / "bundle")
    target = tmp_path / "elsewhere.tflite"
    os.replace(bundle / "model_outside_float32.tflite", target)
    (bundle / "model_outside_float32.tflite").symlink_to(target)
    with pytest.raises(BundleError, match="symbolic link leading outside"):
        Bundle(bundle)


def test_checkpoint_weights_name_leading_out_is_refused(tmp_path):
    import torch

    from sea.configs import custom_config
    from training.checkpoint import load_checkpoint, save_checkpoint
    from training.model import L3Net

    ckpt = tmp_path / "ckpt"
    save_checkpoint(ckpt, L3Net(custom_config((4, 8, 8, 16))).eval())
    torch.save({}, tmp_path / "evil.pt")
    manifest = json.loads((ckpt / "manifest.json").read_text())
    manifest["weights"] = "../evil.pt"
    (ckpt / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UnsafePath, match="'..'"):
        load_checkpoint(ckpt)


def test_store_shards_symlinked_out_are_refused(tmp_path):
    from sea.embedding_store import EmbeddingStoreWriter, EmbeddingStore, shard_path
    from sea.store import ClipStore, StoreWriter

    with StoreWriter(tmp_path / "clips", sample_rate=8000) as writer:
        writer.add("a", np.zeros(8000, np.float32), source="a", dataset="d", labels=(),
                   fold=None)
    shard = tmp_path / "clips" / "shards" / "audio-00000.f32"
    os.replace(shard, tmp_path / "stolen.f32")
    shard.symlink_to(tmp_path / "stolen.f32")
    with pytest.raises(UnsafePath, match="audio shard"):
        ClipStore(tmp_path / "clips").audio_at(0)

    writer = EmbeddingStoreWriter(tmp_path / "emb", {"producer": "test"}, num_rows=2, dim=3,
                                  shard_rows=2)
    writer.write_shard(0, np.zeros((2, 3), np.float32))
    writer.finish()
    os.replace(shard_path(tmp_path / "emb", 0), tmp_path / "stolen.npy")
    shard_path(tmp_path / "emb", 0).symlink_to(tmp_path / "stolen.npy")
    with pytest.raises(UnsafePath, match="embedding shard"):
        EmbeddingStore(tmp_path / "emb").rows([0])
