"""Interrupted runs resume identically wherever they were killed: fault injection at every
write boundary (each atomic rename and each index append) of distill, teacher-embed, prepare,
export and sea-node, then a plain re-run compared with an uninterrupted run."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import torch

from lost_support import crash_after, every_boundary, sea, write_wavs
from sea.manifest import read_manifest

LOSS_COLUMNS = ("epoch", "train_loss", "val_loss", "val_r2")


def history(out) -> list[tuple]:
    with open(out / "history.csv", newline="") as f:
        return [tuple(row[k] for k in LOSS_COLUMNS) for row in csv.DictReader(f)]


def weights(path) -> dict:
    return torch.load(path, weights_only=True)


def same_weights(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_distill_resumes_identically_after_a_kill_at_any_write(artifacts, tmp_path):
    args = ["--store", artifacts["store"], "--targets", artifacts["red"], "--student", "custom",
            "--filters", "4,8,8,8", "--threads", "1", "--batch-size", "8", "--val-folds", "4",
            "--epochs", "2", "--cache-dir", tmp_path / "cache"]
    ref = tmp_path / "ref"
    assert sea("distill", *args, "--out", ref) == 0
    out = tmp_path / "out"

    def run() -> None:
        assert sea("distill", *args, "--out", out, "--resume") == 0

    def compare() -> None:
        assert history(out) == history(ref)
        assert same_weights(weights(out / "last" / "model.pt"), weights(ref / "last" / "model.pt"))
        best, best_ref = read_manifest(out), read_manifest(ref)
        assert best["best_epoch"] == best_ref["best_epoch"]
        assert same_weights(weights(out / best["weights"]), weights(ref / best_ref["weights"]))

    def consistent_after_kill() -> None:
        # Whatever a kill leaves, a root manifest never points at another epoch's weights.
        if (out / "manifest.json").is_file():
            manifest = read_manifest(out)
            assert manifest["weights"].startswith(f"epochs/{manifest['best_epoch']:04d}/")

    for n in range(200):
        shutil.rmtree(out, ignore_errors=True)
        with crash_after(n) as counter:
            run()
        if not counter["crashed"]:
            compare()
            break
        consistent_after_kill()
        run()
        compare()
    assert n > 10  # epochs, their files and the root pointers were all boundaries


def test_teacher_embed_resumes_identically(artifacts, tmp_path):
    from sea.embedding_store import EmbeddingStore

    ref = EmbeddingStore(artifacts["emb"]).all()
    out = tmp_path / "emb"

    def run() -> None:
        assert sea("teacher-embed", artifacts["store"], "--teacher", artifacts["teacher"],
                   "--out", out, "--hop", "0.5", "--threads", "1", "--shard-rows", "8") == 0

    def compare() -> None:
        np.testing.assert_array_equal(EmbeddingStore(out).all(), ref)

    assert every_boundary(out, run, compare) >= 4


def test_prepare_resumes_identically(tmp_path):
    from sea.store import ClipStore

    src = write_wavs(tmp_path / "wavs", 4, seconds=0.5)
    argv = ["prepare", f"folder:{src}", "--sample-rate", "16000", "--no-progress", "--out"]
    assert sea(*argv, tmp_path / "ref") == 0
    ref = ClipStore(tmp_path / "ref")
    out = tmp_path / "out"

    def run() -> None:
        assert sea(*argv, out) == 0

    def compare() -> None:
        store = ClipStore(out)
        assert [r.clip_id for r in store.records] == [r.clip_id for r in ref.records]
        assert store.content_sha256() == ref.content_sha256()
        assert store.verify() == [] and store.manifest["status"] == "complete"

    assert every_boundary(out, run, compare) >= 4


def test_export_resumes_identically(tiny_bundle, tmp_path, monkeypatch):
    """Conversion is not a write boundary: the re-runs reuse the reference bundle's .tflite
    bytes (same checkpoint, same converter), so every boundary can be tried in seconds."""
    import deploy.exporter as exporter

    argv = ["export", tiny_bundle.parent / "ckpt", "--frontend", "outside", "--parity-windows",
            "2", "--out"]  # as the fixture made `tiny_bundle`
    ref = read_manifest(tiny_bundle)
    tflite = (tiny_bundle / ref["variants"]["outside"]["file"]).read_bytes()
    monkeypatch.setattr(exporter, "build_variant", lambda *a, **k: tflite)
    out = tmp_path / "out"

    def run() -> None:
        assert sea(*argv, out) == 0

    def compare() -> None:
        manifest = read_manifest(out)
        assert manifest["variants"] == ref["variants"]
        assert manifest["parity"] == ref["parity"]
        assert sorted(p.name for p in out.iterdir()) == sorted(
            p.name for p in tiny_bundle.iterdir())

    assert every_boundary(out, run, compare) >= 3


def test_node_output_is_whole_or_untouched_after_a_kill(tiny_bundle, tmp_path):
    from deploy.node.cli import main as node_main
    from deploy.node.runner import NodeRunner

    wavs = write_wavs(tmp_path / "wavs", 2, seconds=2.0)
    out = tmp_path / "out.jsonl"
    argv = ["run", "--bundle", str(tiny_bundle), "--input", str(wavs), "--hop", "0.5"]
    assert node_main([*argv, "--out", str(tmp_path / "ref.jsonl")]) == 0
    ref = (tmp_path / "ref.jsonl").read_text()
    lines = ref.count("\n")
    assert lines >= 8
    for n in range(lines + 2):
        out.write_text("previous run\n")
        with crash_after(n, also=((NodeRunner, "write"),)) as counter:
            node_main([*argv, "--out", str(out)])
        if counter["crashed"]:
            assert out.read_text() == "previous run\n"  # never a cut-off output
        assert node_main([*argv, "--out", str(out)]) == 0
        assert out.read_text() == ref
        assert [json.loads(line)["source"] for line in ref.splitlines()][0].endswith("clip0.wav")
