"""`sea distill` with the KD options end to end, and `sea teacher-embed --block-features`."""

from __future__ import annotations

import csv

import numpy as np
import torch

from sea.cli import main
from sea.embedding_store import EmbeddingStore
from sea.framing import frame_resampled
from sea.manifest import read_manifest
from sea.store import ClipStore
from training.checkpoint import build_model
from training.kd.blocks import forward_with_blocks


def test_block_features_are_the_teachers_pooled_blocks(fine_pipeline, tiny_teacher):
    store, _, emb = fine_pipeline
    blocks = EmbeddingStore(emb / "blocks")
    teacher = build_model(str(tiny_teacher)).eval()
    assert blocks.config["block_widths"] == list(teacher.cfg.filters)
    assert len(blocks) == len(EmbeddingStore(emb)) and blocks.dim == sum(teacher.cfg.filters)
    clips = ClipStore(store)
    windows, _ = frame_resampled(clips.audio_at(0), clips.sample_rate, 8000, 0.25, False, 1.0,
                                 "soxr")
    with torch.no_grad():
        embedding, feats = forward_with_blocks(teacher.body, teacher.frontend(
            torch.from_numpy(np.array(windows, np.float32))))
    expected = torch.cat(feats, dim=1).numpy()
    rows = np.arange(len(expected))
    np.testing.assert_allclose(blocks.rows(rows), expected, atol=1e-4 * np.abs(expected).max(),
                               rtol=0)
    np.testing.assert_allclose(EmbeddingStore(emb).rows(rows), embedding.numpy(),
                               atol=1e-4 * float(embedding.abs().max()), rtol=0)


KD_OPTIONS = ["--student", "custom", "--filters", "4,8,8,16", "--threads", "1",
              "--batch-size", "16", "--val-folds", "4", "--loss", "mse+relational",
              "--relational-bank", "64", "--intermediate", "alp", "--censor", "scaffold",
              "--augment", "shift+gain", "--base-hop", "0.5"]


def _distill(fine_pipeline, out, *argv: str) -> int:
    store, red, _ = fine_pipeline
    return main(["distill", "--store", str(store), "--targets", str(red), "--out", str(out),
                 *KD_OPTIONS, *argv])


def test_every_kd_option_together_is_recorded_and_resumes_exactly(fine_pipeline, tmp_path):
    out = tmp_path / "s"
    assert _distill(fine_pipeline, out, "--epochs", "2") == 0
    with open(out / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[-4:] == ["train_mse", "train_relational", "train_alp",
                                  "censored_share"]
    assert all(np.isfinite(float(r[c])) for r in rows for c in list(r)[1:])
    training = read_manifest(out)["training"]
    assert (training["loss"], training["intermediate"], training["censor"], training["augment"],
            training["base_hop"]) == ("mse+relational", "alp", "scaffold", "shift+gain", 0.5)
    assert read_manifest(out)["objective"] == {"terms": ["mse", "relational", "alp"],
                                               "base_stride": 2}
    # another set of loss terms cannot continue this run
    assert _distill(fine_pipeline, out, "--epochs", "3", "--resume", "--loss", "mse") == 2
    # resume restores the objective's state (queue, censor estimates, projections and their
    # optimizer state): the resumed run is the uninterrupted one, to the bit
    assert _distill(fine_pipeline, out, "--epochs", "3", "--resume") == 0
    assert _distill(fine_pipeline, tmp_path / "straight", "--epochs", "3") == 0
    for name in ("model.pt", "trainer.pt"):
        a = torch.load(out / "last" / name, weights_only=True)
        b = torch.load(tmp_path / "straight" / "last" / name, weights_only=True)
        if name == "trainer.pt":
            a, b = a["objective"], b["objective"]
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


def test_alp_without_block_features_is_explained(make_store, embed_store_cli, tmp_path, caplog):
    store = make_store(tmp_path / "store", clips=8, seconds=1.5)
    embed_store_cli(tmp_path / "emb", 0.5, store=store)
    assert main(["reduce", str(tmp_path / "emb"), "--reducer", "identity", "--out",
                 str(tmp_path / "red")]) == 0
    assert main(["distill", "--store", str(store), "--targets", str(tmp_path / "red"),
                 "--out", str(tmp_path / "s"), "--student", "custom", "--filters", "4,8,8,16",
                 "--val-folds", "4", "--intermediate", "alp"]) == 2
    assert "no teacher block features" in caplog.text and "--teacher-blocks" in caplog.text


def test_block_features_refuse_ray_and_bf16(tiny_store, tiny_teacher, tmp_path, capsys):
    # block features come from this process's float32 teacher; Ray workers and bf16 would
    # write embeddings the block features were not computed beside
    for extra in (["--ray"], ["--precision", "bf16"]):
        assert main(["teacher-embed", str(tiny_store), "--teacher", str(tiny_teacher), "--out",
                     str(tmp_path / "emb"), "--block-features", *extra]) == 2
        err = capsys.readouterr().err  # a usage error: argparse prints it
        assert "--block-features runs the float32 teacher in this process" in err
        assert not (tmp_path / "emb" / "blocks").exists()
