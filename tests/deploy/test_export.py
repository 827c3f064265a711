"""Export: bundle layout, float/int8/float16 parity, and loud failure when parity is missed."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from deploy.parity import FLOAT_MIN_COSINE, QUANTIZED_MEAN_COSINE, ParityError, check, compare
from sea.bundle import Bundle, TFLiteModel
from sea.quantization import Quantization


def test_float_bundle_layout_and_parity(float_bundle):
    manifest = json.loads((float_bundle / "manifest.json").read_text())
    assert manifest["kind"] == "sea-bundle" and manifest["quantization"] == "none"
    assert set(manifest["variants"]) == {"outside", "in-graph"}
    for variant, entry in manifest["variants"].items():
        assert (float_bundle / entry["file"]).stat().st_size == entry["size_bytes"]
        report = manifest["parity"][variant]
        assert report["real"]["min_cosine"] >= FLOAT_MIN_COSINE
        assert set(report["probes"]) == {"silence", "noise", "sine"}
        assert all(p["min_cosine"] >= FLOAT_MIN_COSINE for p in report["probes"].values())
        assert report["failures"] == []
    assert manifest["variants"]["outside"]["input"] == "logmel"
    assert manifest["variants"]["in-graph"]["input_shape"] == [1, 8000]
    assert manifest["sources"]["windows"]["kind"] == "generated"
    assert manifest["head"]["labels"] == ["siren", "engine", "dog"]
    with np.load(float_bundle / "frontend.npz") as f:
        assert f["mel_basis"].shape == (513, 64)


def test_int8_bundle_from_store(int8_bundle):
    manifest = json.loads((int8_bundle / "manifest.json").read_text())
    assert set(manifest["variants"]) == {"outside", "in-graph"}
    for variant, entry in manifest["variants"].items():
        assert entry["input_dtype"] == "float32"  # the frontend (and its input) stays float
        assert entry["output_dtype"] == "int8"
        assert manifest["parity"][variant]["real"]["mean_cosine"] >= QUANTIZED_MEAN_COSINE
    entry = manifest["variants"]["outside"]
    assert manifest["parity"]["calibration_windows"] > 12  # store windows + stress windows
    assert manifest["sources"]["windows"]["kind"] == "clip_store"
    model = TFLiteModel(int8_bundle / entry["file"])
    scale, _ = model.output["quantization"]
    assert scale > 0


def test_int8_linear_output_is_ranged_and_mapped_back(tmp_path, linear_checkpoint,
                                                       calibration_store):
    """A linear last layer (students of PCA targets) is exported with its pooled range mapped
    onto int8 (training.equalize); the bundle's output map (scale and offset) undoes it."""
    from deploy.exporter import torch_embed
    from deploy.representative import generated_windows
    from sea.bundle import BundleEmbedder
    from sea.cli import main
    from training.checkpoint import build_model

    checkpoint, out = linear_checkpoint, tmp_path / "bundle"
    assert main(["export", str(checkpoint), "--out", str(out), "--quantize", "int8",
                 "--calibration", str(calibration_store),
                 "--calibration-windows", "12", "--parity-windows", "6"]) == 0
    embedder = BundleEmbedder(out)
    assert embedder.bundle.output_offset is not None and embedder.bundle.output_offset.any()
    windows = generated_windows(8000, 4, seed=2).windows
    raw = np.stack([embedder.model(embedder.frontend(w[None])) for w in windows])
    embedded = embedder.embed_windows(windows)
    np.testing.assert_array_equal(
        embedded, raw * embedder.bundle.output_scale + embedder.bundle.output_offset)
    reference = torch_embed(build_model(str(checkpoint), dft_mode="matmul").eval(), windows)
    assert compare(reference, embedded)["mean_cosine"] >= QUANTIZED_MEAN_COSINE


def test_int8_is_smaller_than_float(float_bundle, int8_bundle):
    size = lambda b: Bundle(b).variants["outside"]["size_bytes"]  # noqa: E731
    assert size(int8_bundle) < size(float_bundle)


def test_float16_export(tmp_path, tiny_checkpoint):
    from deploy.exporter import export_bundle
    from deploy.representative import generated_windows
    from deploy.settings.export import ExportSettings

    settings = ExportSettings(model=str(tiny_checkpoint), out=tmp_path / "fp16",
                              quantize="float16", frontend="outside")
    manifest = export_bundle(settings, windows=generated_windows(8000, 6))
    assert manifest["parity"]["outside"]["real"]["mean_cosine"] >= 0.999
    interp = TFLiteModel(tmp_path / "fp16" / manifest["variants"]["outside"]["file"]).interpreter
    assert any(t["dtype"] == np.float16 for t in interp.get_tensor_details())


def test_missed_parity_fails_loudly(tmp_path, float_bundle, other_checkpoint, monkeypatch):
    """A .tflite that is not the model being exported must not become a bundle."""
    import deploy.exporter as exporter
    from deploy.representative import generated_windows
    from deploy.settings.export import ExportSettings

    wrong = (float_bundle / Bundle(float_bundle).variants["outside"]["file"]).read_bytes()
    monkeypatch.setattr(exporter, "build_variant", lambda *a, **k: wrong)
    out = tmp_path / "bad"
    with pytest.raises(ParityError, match="parity targets"):
        exporter.export_bundle(ExportSettings(model=str(other_checkpoint), out=out,
                                              frontend="outside"),
                               windows=generated_windows(8000, 4))
    assert not out.exists()
    assert not list(tmp_path.glob(".bad.*"))  # no half-built directory left behind
    report = json.loads((tmp_path / "bad.failed-parity.json").read_text())
    assert report["outside"]["failures"]


def test_int8_export_refuses_a_window_below_the_min_cosine(tmp_path, tiny_checkpoint,
                                                          calibration_store, caplog):
    """`sea export` gates int8 on its worst real window: exit 2 with the figure and the
    override named, no bundle; the bound and the figure are in the report it keeps."""
    from sea.cli import main

    out = tmp_path / "strict"
    args = ["export", str(tiny_checkpoint), "--out", str(out), "--quantize", "int8",
            "--frontend", "outside", "--calibration", str(calibration_store),
            "--calibration-windows", "6", "--parity-windows", "4"]
    with caplog.at_level(logging.ERROR):
        assert main([*args, "--quantized-min-cosine", "1"]) == 2  # int8 is never exact
    assert "real windows min cosine" in caplog.text and "--quantized-min-cosine" in caplog.text
    assert not out.exists()
    report = json.loads((tmp_path / "strict.failed-parity.json").read_text())
    assert report["outside"]["real"]["min_cosine"] < 1


def test_refuses_non_empty_out(tmp_path, float_bundle, tiny_checkpoint):
    from deploy.exporter import export_bundle
    from deploy.representative import generated_windows
    from deploy.settings.export import ExportSettings
    from sea.output import OutputError

    out = tmp_path / "taken"
    shutil.copytree(float_bundle, out)
    with pytest.raises(OutputError, match="pass overwrite to replace it"):
        export_bundle(ExportSettings(model=str(tiny_checkpoint), out=out),
                      windows=generated_windows(8000, 2))


def test_export_settings_rules(tmp_path, capsys):
    """The micro target implies int8 and needs the log-mel frontend outside the graph; the
    rule names fields in Python and options on the command line."""
    from deploy.settings.export import ExportSettings
    from sea.cli import main
    from sea.settings import SettingError

    out = tmp_path / "bundle"
    with pytest.raises(SettingError, match="^target micro runs the log-mel frontend in C: use "
                                           "frontend outside or both$"):
        ExportSettings(model="student3", out=out, target="micro", frontend="in-graph")
    micro = ExportSettings(model="student3", out=out, target="micro")
    assert micro.quantization is Quantization.INT8 and micro.variants == ("outside", "in-graph")
    assert main(["export", "student3", "--out", str(out), "--target", "micro",
                 "--frontend", "in-graph"]) == 2
    err = capsys.readouterr().err
    assert "--target micro runs the log-mel frontend in C: use --frontend" in err
    assert not out.exists()


def test_parity_check_rules():
    ref = np.ones((4, 3))
    good = {"real": compare(ref, ref), "probes": {"sine": compare(ref[:1], ref[:1])}}
    assert check(good, quantized=False) == []
    off = ref.copy()
    off[0] = [1, -1, 0]
    bad = {"real": compare(ref, off), "probes": {"sine": compare(ref[:1], off[:1])}}
    assert len(check(bad, quantized=False)) == 2
    assert len(check(bad, quantized=True)) == 4  # real min and mean, probe floor, probe mean
    near = ref.copy()
    near[0] = [1, 1, 0.8]  # cosine 0.994: fine for a quantized model, not for float
    close = {"real": compare(ref, near), "probes": {"sine": compare(ref[:1], near[:1])}}
    assert check(close, quantized=True) == []
    assert len(check(close, quantized=False)) == 2
    one_low = np.ones((100, 3))
    one_low[0] = [1, 1, 0.55]  # cosine 0.970 in one window of 100: the mean (0.9997) hides it
    low = {"real": compare(ref[:1].repeat(100, 0), one_low), "probes": {}}
    assert [f.split(" <")[0] for f in check(low, quantized=True)] == [
        "real windows min cosine 0.97024"]
    assert check(low, quantized=True, quantized_min_cosine=0.95) == []
    zeros = np.zeros((1, 3))
    assert compare(zeros, zeros)["min_cosine"] == 1.0  # silent embeddings agree


def test_default_store_comes_from_the_checkpoint(tmp_path, tiny_checkpoint):
    from deploy.export_inputs import default_store
    from sea.manifest import read_manifest, write_manifest

    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, ckpt)
    assert default_store(str(ckpt)) is None
    manifest = read_manifest(ckpt)
    store = tmp_path / "store"
    store.mkdir()
    write_manifest(ckpt, manifest["kind"], manifest["config"], weights=manifest["weights"],
                   clip_store={"path": str(store), "clips": 3})
    assert default_store(str(ckpt)) == store
    assert default_store("student2") is None
