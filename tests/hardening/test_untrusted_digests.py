"""Artifacts are verified against the digests their manifests record before use: a tampered
or truncated file is a one-line refusal naming it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from untrusted_payloads import write_fake_bundle

VARIANT = "model_outside_float32.tflite"


def _flip_byte(path: Path, at: int = -1) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_intact_bundle_passes_verification(tmp_path):
    from sea.bundle import Bundle

    bundle = Bundle(write_fake_bundle(tmp_path / "b"))
    assert bundle.model_path("outside") == tmp_path / "b" / VARIANT
    assert bundle.head is not None and bundle.head.labels == ["siren", "dog"]


@pytest.mark.parametrize("name, change, reason", [
    (VARIANT, "flip", "does not match its recorded sha256"),
    (VARIANT, "append", "bytes, its manifest records"),
    ("frontend.npz", "flip", "does not match its recorded sha256"),
    ("head.npz", "truncate", "bytes, its manifest records"),
    (VARIANT, "delete", "file missing"),
])
def test_tampered_bundle_file_is_refused_naming_it(tmp_path, name, change, reason):
    from sea.bundle import BundleEmbedder, BundleError

    bundle = write_fake_bundle(tmp_path / "b")
    path = bundle / name
    if change == "flip":
        _flip_byte(path)
    elif change == "append":
        path.write_bytes(path.read_bytes() + b"\0")
    elif change == "truncate":
        path.write_bytes(path.read_bytes()[:-10])
    else:
        path.unlink()
    with pytest.raises(BundleError) as err:
        BundleEmbedder(bundle)
    message = str(err.value)
    assert reason in message and (name in message) and "\n" not in message


def test_bundle_without_digest_records_is_refused(tmp_path):
    from sea.bundle import Bundle, BundleError

    bundle = write_fake_bundle(tmp_path / "b")
    manifest = json.loads((bundle / "manifest.json").read_text())
    del manifest["files"]["head.npz"]
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="records no digest for head.npz"):
        Bundle(bundle)


def test_sea_node_refuses_tampered_bundle_in_one_line(tmp_path, caplog):
    from deploy.node.cli import main

    bundle = write_fake_bundle(tmp_path / "b")
    _flip_byte(bundle / VARIANT, at=10)
    (tmp_path / "in.wav").write_bytes(b"")
    with caplog.at_level(logging.INFO):
        code = main(["run", "--bundle", str(bundle), "--input", str(tmp_path / "in.wav"),
                     "--out", str(tmp_path / "out.jsonl")])
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert code == 2 and len(errors) == 1 and "\n" not in errors[0]
    assert VARIANT in errors[0] and "sha256" in errors[0]
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("name", ["model.pt", "config.json"])
def test_tampered_checkpoint_is_refused(tmp_path, name):
    from sea.configs import custom_config
    from sea.integrity import IntegrityError
    from training.checkpoint import load_checkpoint, save_checkpoint
    from training.model import L3Net

    ckpt = tmp_path / "ckpt"
    save_checkpoint(ckpt, L3Net(custom_config((4, 8, 8, 16))).eval())
    load_checkpoint(ckpt)  # intact: loads
    if name == "config.json":
        cfg = json.loads((ckpt / name).read_text())
        cfg["name"] = "renamed"
        (ckpt / name).write_text(json.dumps(cfg))
    else:
        _flip_byte(ckpt / name, at=len((ckpt / name).read_bytes()) // 2)
    with pytest.raises(IntegrityError, match=name):
        load_checkpoint(ckpt)


def test_tampered_reducer_targets_are_refused(tmp_path):
    from sea.integrity import IntegrityError
    from sea.reducer import TARGETS_FILE, Reducer, load_reducer, load_targets, save_reducer

    red = tmp_path / "red"
    red.mkdir()
    np.save(red / TARGETS_FILE, np.ones((4, 2), np.float32))
    save_reducer(red, Reducer("pca", 3, 2, np.zeros(3, np.float32),
                              np.eye(2, 3, dtype=np.float32)), {"sampling": "random"})
    assert load_targets(red).shape == (4, 2) and load_reducer(red).out_dim == 2
    _flip_byte(red / TARGETS_FILE)
    with pytest.raises(IntegrityError, match=TARGETS_FILE):
        load_targets(red)
    _flip_byte(red / "reducer.npz", at=100)
    with pytest.raises(IntegrityError, match="reducer.npz"):
        load_reducer(red)
