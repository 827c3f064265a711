"""`sea distill`: a tiny end-to-end distillation learns; resume is exact; errors are clear."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from sea.cli import main
from sea.manifest import read_manifest
from sea.reducer import TARGETS_FILE
from sea.store import ClipStore
from training.checkpoint import build_model
from training.embedder import Embedder

FAST = ["--threads", "1", "--batch-size", "16", "--lr", "3e-3", "--val-folds", "4"]


def distill(store, red, out, *argv) -> int:
    return main(["distill", "--store", str(store), "--targets", str(red), "--out", str(out),
                 *FAST, *argv])


def history(out) -> list[dict]:
    with open(out / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_student_learns_the_teacher_on_held_out_clips(steady_pipeline, tmp_path):
    store, red = steady_pipeline
    out = tmp_path / "student"
    assert distill(store, red, out, "--student", "custom", "--filters", "8,16,16,16",
                   "--epochs", "15", "--patience", "15") == 0
    rows = history(out)
    assert list(rows[0]) == ["epoch", "train_loss", "val_loss", "val_r2", "seconds",
                             "windows_per_second", "data_wait_share", "train_mse",
                             "censored_share"]
    manifest = read_manifest(out)
    assert manifest["reducer_id"] == read_manifest(red)["reducer_id"]
    assert manifest["split"] == {"by": "fold", "val_folds": ["4"], "val_clips": 24,
                                 "train_clips": 72, "train_windows": 144, "val_windows": 48}
    # Independently of the trainer's own numbers: embed the held-out clips with the saved
    # student and compare with the targets.
    student = Embedder(build_model(str(out)), device="cpu")
    clips = ClipStore(store)
    index = clips.window_index(1.0, 0.5, False)
    targets = np.load(red / TARGETS_FILE)
    val = [p for p, r in enumerate(clips.records) if r.fold == "4"]
    predicted = np.concatenate([student.embed(clips.audio_at(p), clips.sample_rate, 0.5,
                                              center=False)[0] for p in val])
    expected = targets[np.isin(index.clip_pos, val)]
    mse = np.mean((predicted - expected) ** 2)
    variance = np.mean(expected.var(axis=0))
    assert mse < 0.5 * variance, f"held-out MSE {mse:.4f} vs target variance {variance:.4f}"
    assert float(rows[manifest["best_epoch"] - 1]["val_r2"]) == pytest.approx(
        1 - mse / variance, abs=0.02)


def test_resume_continues_exactly(steady_pipeline, tmp_path):
    store, red = steady_pipeline
    args = ["--student", "custom", "--filters", "4,8,8,16", "--epochs"]
    assert distill(store, red, tmp_path / "straight", *args, "3") == 0
    assert distill(store, red, tmp_path / "split", *args, "2") == 0
    assert distill(store, red, tmp_path / "split", *args, "2") == 2  # needs --resume
    assert distill(store, red, tmp_path / "split", *args, "3", "--resume") == 0
    straight, split = history(tmp_path / "straight"), history(tmp_path / "split")
    assert [r["epoch"] for r in split] == ["1", "2", "3"]
    assert [r["val_loss"] for r in split] == [r["val_loss"] for r in straight]
    a = torch.load(tmp_path / "straight" / "last" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "split" / "last" / "model.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("loss", ["cosine", "relational", "mse+relational"])
def test_other_losses_train(steady_pipeline, tmp_path, loss):
    store, red = steady_pipeline
    assert distill(store, red, tmp_path / "s", "--student", "custom", "--filters", "4,8,8,16",
                   "--epochs", "1", "--loss", loss) == 0
    assert np.isfinite(float(history(tmp_path / "s")[0]["train_loss"]))


def test_negative_targets_get_a_linear_student(steady_pipeline, tmp_path):
    store, red = steady_pipeline
    emb = read_manifest(red)["embeddings"]["path"]
    assert main(["reduce", emb, "--reducer", "pca", "--dim", "4", "--out",
                 str(tmp_path / "pca")]) == 0
    assert distill(store, tmp_path / "pca", tmp_path / "s", "--student", "custom",
                   "--filters", "4,8,8,4", "--epochs", "1") == 0
    assert build_model(str(tmp_path / "s")).cfg.final_bn_relu is False


@pytest.mark.parametrize("argv, message", [
    (["--student", "student3"], "outputs 64 dims, the targets have 16"),
    (["--student", "edgel3-sea-64"], "not a student"),
    (["--student", "custom"], "needs --filters"),
    (["--student", "custom", "--filters", "4,8,8"], "four positive filter counts"),
    (["--student", "custom", "--filters", "4,8,8,16", "--dim", "8"], "must equal"),
    (["--student", "student1", "--filters", "4,8,8,16"], "--filters needs --student custom"),
    (["--student", "custom", "--filters", "4,8,8,16", "--val-folds", "9"], "not in the store"),
    (["--student", "custom", "--filters", "4,8,8,16", "--epochs", "0"], "--epochs: must be at"),
])
def test_bad_arguments_are_explained(steady_pipeline, tmp_path, caplog, capsys, argv, message):
    store, red = steady_pipeline
    assert distill(store, red, tmp_path / "s", *argv) == 2
    assert message in caplog.text + capsys.readouterr().err  # argparse errors go to stderr


def test_wrong_store_is_refused(steady_pipeline, tiny_store, tmp_path, caplog):
    _, red = steady_pipeline
    assert distill(tiny_store, red, tmp_path / "s", "--student", "custom", "--filters",
                   "4,8,8,16") == 2
    assert "not the clip store" in caplog.text


def test_same_command_same_thread_count_gives_bit_identical_students(steady_pipeline, tmp_path):
    """Seeded init and data order, deterministic kernels, fixed --threads: the weights and the
    history's losses repeat to the bit (what makes the README's quickstart table reproducible)."""
    store, red = steady_pipeline
    args = ["--student", "custom", "--filters", "4,8,8,16", "--epochs", "2", "--seed", "3"]
    assert distill(store, red, tmp_path / "a", *args) == 0
    assert distill(store, red, tmp_path / "b", *args) == 0
    a, b = (torch.load(tmp_path / d / "last" / "model.pt", weights_only=True) for d in "ab")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    strip = [{k: v for k, v in r.items() if k in ("train_loss", "val_loss", "val_r2")}
             for r in history(tmp_path / "a")]
    assert strip == [{k: v for k, v in r.items() if k in ("train_loss", "val_loss", "val_r2")}
                     for r in history(tmp_path / "b")]


@pytest.mark.parametrize("hidden, expected", [("auto", "relu6"), ("relu", "relu"),
                                              ("relu6", "relu6")])
def test_student_activations_follow_the_targets_and_the_setting(hidden, expected):
    from sea.configs import get_config
    from training.distill import student_for_targets

    cfg = student_for_targets(get_config("student3"), 64, target_min=-2.0,
                              hidden_activation=hidden)
    assert (cfg.activation, cfg.final_bn_relu) == (expected, False)  # centred targets: linear
    assert student_for_targets(get_config("student3"), 64, target_min=0.0).final_bn_relu
