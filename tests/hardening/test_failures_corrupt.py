"""A damaged file (.json manifest, Keras .h5, torch weights, .npz, .npy shard, .tflite) is a
one-line refusal naming the file (exit 2), never a traceback from the decoder."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

from failures_support import deploy_fixtures, write_tone
from sea import clirun
from sea.cli import main
from sea.errors import CorruptFile

GARBAGE = b"\x89garbage, not what the name says\x00" * 8


def errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def assert_refused(caplog, code: int, *needles: str) -> None:
    assert code == clirun.EXIT_USAGE
    (message,) = errors(caplog)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    return deploy_fixtures().write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny")


@pytest.fixture(scope="module")
def tone(tmp_path_factory):
    return write_tone(tmp_path_factory.mktemp("audio") / "tone.wav")


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe\x00"])
def test_corrupt_json_manifest(tmp_path, caplog, content):
    store = tmp_path / "store"
    store.mkdir()
    (store / "manifest.json").write_bytes(content)
    code = main(["store", "info", str(store)])
    assert_refused(caplog, code, str(store / "manifest.json"), "not a readable JSON manifest")


def test_corrupt_keras_h5(tmp_path, tone, caplog):
    bad = tmp_path / "weights.h5"
    bad.write_bytes(GARBAGE)
    code = main(["embed", "--model", "edgel3-sea-64", "--weights", str(bad), "--output-dir",
                 str(tmp_path / "out"), str(tone)])
    assert_refused(caplog, code, str(bad), "Keras .h5")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_corrupt_torch_weights(tmp_path, student, tone, caplog):
    ckpt = shutil.copytree(student, tmp_path / "ckpt")
    (ckpt / "model.pt").write_bytes(GARBAGE)
    code = main(["embed", "--model", str(ckpt), "--output-dir", str(tmp_path / "out"),
                 str(tone)])
    assert_refused(caplog, code, "model.pt")


def test_corrupt_npz_head(tmp_path, student, caplog):
    from sea.head import HEAD_KIND
    from sea.integrity import record_files
    from sea.manifest import write_manifest

    head = tmp_path / "head"
    head.mkdir()
    # a zip signature, then nothing readable; its digest recorded, so the decoder meets it
    (head / "head.npz").write_bytes(b"PK\x03\x04" + GARBAGE)
    write_manifest(head, HEAD_KIND, {}, model_id="tiny-0",
                   files=record_files(head, ["head.npz"]))
    code = main(["export", str(student), "--out", str(tmp_path / "bundle"), "--head", str(head),
                 "--parity-windows", "2"])
    assert_refused(caplog, code, str(head / "head.npz"), "not a readable classifier head .npz")
    assert not (tmp_path / "bundle").exists()


def test_truncated_npy_shard(tmp_path):
    from sea.embedding_store import EmbeddingStore, EmbeddingStoreWriter, shard_path

    emb = tmp_path / "emb"
    writer = EmbeddingStoreWriter(emb, {"producer": "test"}, num_rows=64, dim=8)
    writer.write_shard(0, np.ones((64, 8), np.float32))
    writer.finish()
    shard = shard_path(emb, 0)
    shard.write_bytes(shard.read_bytes()[:200])  # header intact, data cut short
    with pytest.raises(CorruptFile, match=f"{shard}: not a readable embedding shard"):
        EmbeddingStore(emb).shard(0)


def test_corrupt_tflite(tmp_path):
    from sea.bundle import TFLiteModel

    bad = tmp_path / "model.tflite"
    bad.write_bytes(GARBAGE)
    with pytest.raises(CorruptFile, match=f"{bad}: not a readable TFLite model"):
        TFLiteModel(bad)
