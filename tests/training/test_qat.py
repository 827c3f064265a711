"""`sea distill --qat`: the last epochs train through the fake-quantized int8 body; the
checkpoint records it, resumes exactly, and refuses what it cannot do in one line."""

from __future__ import annotations

import csv
import shutil

import pytest
import torch

from sea.cli import main
from sea.manifest import read_manifest
from training.distill import Distiller

FAST = ["--threads", "1", "--batch-size", "16", "--lr", "3e-3", "--val-folds", "4",
        "--student", "custom", "--filters", "4,8,8,16"]
QAT = ["--epochs", "4", "--qat", "--qat-epochs", "2"]


def distill(steady_pipeline, out, *argv) -> int:
    store, red = steady_pipeline
    return main(["distill", "--store", str(store), "--targets", str(red), "--out", str(out),
                 *FAST, *argv])


def history(out) -> list[dict]:
    with open(out / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def losses(out) -> list[tuple[str, ...]]:
    return [(r["epoch"], r["train_loss"], r["val_loss"], r["val_r2"]) for r in history(out)]


@pytest.fixture(scope="module")
def qat_run(steady_pipeline, tmp_path_factory):
    out = tmp_path_factory.mktemp("qat-run") / "student"
    assert distill(steady_pipeline, out, *QAT) == 0
    return out


def test_manifest_records_the_qat_phase(qat_run):
    manifest = read_manifest(qat_run)
    qat = manifest["training"]["qat"]
    assert qat["epochs"] == 2 and qat["from_epoch"] == 3
    assert qat["lr"] == pytest.approx(3e-4)  # --lr / 10 by default
    assert "PT2E" in qat["scheme"] and "calibrates" in qat["export"]
    assert manifest["qat_start"] == 3 and manifest["best_epoch"] in (3, 4)  # among QAT epochs
    assert [r["epoch"] for r in history(qat_run)] == ["1", "2", "3", "4"]


def test_saved_student_is_the_float_model_qat_trained(qat_run, steady_pipeline, tmp_path):
    """The float run's first two epochs are the QAT run's (same seed); QAT changed the rest."""
    assert distill(steady_pipeline, tmp_path / "float", "--epochs", "2") == 0
    assert [r["val_loss"] for r in history(tmp_path / "float")] == \
        [r["val_loss"] for r in history(qat_run)[:2]]
    a = torch.load(tmp_path / "float" / "last" / "model.pt", weights_only=True)
    b = torch.load(qat_run / "last" / "model.pt", weights_only=True)
    assert a.keys() == b.keys() and not all(torch.equal(a[k], b[k]) for k in a)


def test_run_killed_in_the_qat_phase_resumes_exactly(qat_run, steady_pipeline, tmp_path,
                                                    monkeypatch):
    """Killed after the first QAT epoch, the run resumes with the fake-quantized graph
    (weights, BN statistics, learned ranges) and the optimizer exactly as committed."""
    original = Distiller.train_epoch

    def killed_at_4(self, epoch):
        if epoch == 4:
            raise KeyboardInterrupt
        return original(self, epoch)

    monkeypatch.setattr(Distiller, "train_epoch", killed_at_4)
    try:
        distill(steady_pipeline, tmp_path / "split", *QAT)
    except KeyboardInterrupt:
        pass
    monkeypatch.setattr(Distiller, "train_epoch", original)
    assert [r["epoch"] for r in history(tmp_path / "split")] == ["1", "2", "3"]
    assert distill(steady_pipeline, tmp_path / "split", *QAT, "--resume") == 0
    assert losses(tmp_path / "split") == losses(qat_run)
    a = torch.load(qat_run / "last" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "split" / "last" / "model.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("argv, message", [
    ([*QAT, "--nproc", "2"], "--qat runs in one process only"),
    ([*QAT, "--intermediate", "alp"], "--qat cannot be combined with --intermediate"),
    (["--epochs", "3", "--qat-epochs", "1"], "--qat-epochs needs --qat"),
    (["--epochs", "3", "--qat", "--qat-epochs", "4"], "--qat-epochs needs --qat and at most --epochs"),
    (["--epochs", "3", "--qat-lr", "1e-4"], "--qat-lr needs --qat"),
])
def test_what_qat_cannot_do_is_refused_in_one_line(steady_pipeline, tmp_path, capsys, argv,
                                                   message):
    assert distill(steady_pipeline, tmp_path / "student", *argv) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0]


def test_resume_with_other_qat_settings_is_refused(qat_run, tmp_path, steady_pipeline, caplog):
    out = tmp_path / "student"
    shutil.copytree(qat_run, out, symlinks=True)
    assert distill(steady_pipeline, out, "--epochs", "4", "--resume") == 2
    assert "trained with qat for 2 epochs; resume it with the same qat settings" in caplog.text
    assert distill(steady_pipeline, out, "--epochs", "4", "--qat", "--qat-epochs", "1",
                   "--resume") == 2


def int8_parity(checkpoint, store, out) -> dict:
    """The int8 export's real-window parity (outside variant) of a checkpoint; the gate is
    lowered so that both exports are written and compared."""
    from deploy.exporter import export_bundle
    from deploy.representative import store_windows
    from deploy.settings.export import ExportSettings
    from training.checkpoint import build_model

    model = build_model(str(checkpoint), dft_mode="matmul")
    windows = store_windows(store, model.cfg.frontend.sample_rate, 96, seed=0)
    settings = ExportSettings(model=str(checkpoint), out=out, quantize="int8",
                              frontend="outside", calibration_windows=48,
                              quantized_min_cosine=0.0)
    manifest = export_bundle(settings, model, windows)
    return manifest["parity"]["outside"]["real"]


def test_qat_export_matches_its_float_model_at_least_as_well_as_ptq(steady_pipeline, tmp_path):
    """A setup that stresses int8 (two channels in the first block, a high learning rate:
    per-tensor activation ranges set by few channels; PTQ's worst window there is ~0.999). The QAT run continues from the
    float run's best epoch (same seed, same first epochs), so PTQ of that float start is the
    baseline; the QAT checkpoint's int8 export must agree with its float model at least as
    well, on the mean and on the worst window."""
    hostile = ["--filters", "2,4,4,16", "--lr", "3e-2"]
    assert distill(steady_pipeline, tmp_path / "float", *hostile, "--epochs", "3") == 0
    assert distill(steady_pipeline, tmp_path / "qat", *hostile, "--epochs", "4", "--qat",
                   "--qat-epochs", "1") == 0
    assert read_manifest(tmp_path / "qat")["training"]["qat"]["from_epoch"] == 4
    ptq = int8_parity(tmp_path / "float", steady_pipeline[0], tmp_path / "ptq-bundle")
    qat = int8_parity(tmp_path / "qat", steady_pipeline[0], tmp_path / "qat-bundle")
    assert qat["min_cosine"] >= ptq["min_cosine"] and qat["mean_cosine"] >= ptq["mean_cosine"]


def test_qat_body_of_a_linear_output_ranges_it_as_the_export_does_and_restores():
    """Students of PCA targets end in a linear layer: the QAT body ranges it as the export
    does (shift + scale + ReLU, training.equalize), the float model it hands back is the
    student unchanged, and a restored body computes exactly what the saved one did."""
    import copy
    import dataclasses

    from sea.configs import custom_config
    from training.model import L3Net
    from training.qat import QATBody, training_output_range

    torch.manual_seed(0)
    model = L3Net(dataclasses.replace(custom_config((4, 8, 8, 16)), final_bn_relu=False))
    windows = torch.randn(8, 8000) * 0.1
    with torch.no_grad():  # BN statistics of these windows (0.9**80 of the start left)
        for _ in range(80):
            model.train()(windows)
    model.eval()
    original = copy.deepcopy(model)
    output_range = training_output_range(model, windows)
    assert output_range.clamped and output_range.offsets.any()
    body = QATBody(model, output_range)
    assert isinstance(model.body.blocks[-1][-1], torch.nn.ReLU)  # ranged in place
    restored_float = body.float_model(model)
    assert repr(restored_float) == repr(original)  # the student as it was: no ReLU, same values
    for (name, a), b in zip(restored_float.state_dict().items(), original.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7, msg=name)
    with torch.no_grad():
        logmels = original.frontend(windows)
        body.train()(logmels)  # the observers see the data (as a training step would)
        out = body.eval()(logmels)
        reference = body.float_model(model).body(logmels)  # same weights and BN statistics
    # fake-quantized int8 body vs its float model: close, not equal
    assert torch.nn.functional.cosine_similarity(out, reference).min() > 0.95
    again = QATBody.restore(copy.deepcopy(body.float_model(model)), body.state()).eval()
    with torch.no_grad():
        assert torch.equal(again(logmels), out)
