"""`sea export --target micro`: the fully integer model, its C sources, TFLM arena, budget and
parity (tflite-micro interpreter), on the tiny student."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

pytest.importorskip("tflite_micro", reason="tflite-micro (extra `export`) is not installed")


@pytest.fixture(scope="module")
def micro_bundle(tmp_path_factory, int8_bundle, tiny_checkpoint):
    """The micro build of a copy of the shared int8 bundle (the CLI path is tested below)."""
    from deploy.exporter import torch_embed
    from deploy.micro.build import build_micro
    from deploy.representative import generated_windows
    from training.checkpoint import build_model

    out = tmp_path_factory.mktemp("micro") / "bundle"
    shutil.copytree(int8_bundle, out)
    windows = generated_windows(8000, 6, seed=1).windows
    model = build_model(str(tiny_checkpoint), dft_mode="matmul").eval()
    build_micro(out, torch_embed(model, windows), windows)
    return out


def test_micro_files_ops_and_budget(micro_bundle):
    from deploy.micro.budget import BOARDS
    from deploy.micro.integer_model import op_names
    from sea.manifest import read_manifest, sha256_file

    micro = micro_bundle / "micro"
    manifest = read_manifest(micro, kind="sea-micro")
    for name, digest in manifest["files"].items():
        assert sha256_file(micro / name) == digest, name
    model = (micro / "model_int8.tflite").read_bytes()
    assert manifest["ops"] == op_names(model) and "CONV_2D" in manifest["ops"]
    assert "QUANTIZE" not in manifest["ops"] and "DEQUANTIZE" not in manifest["ops"]
    resolver = (micro / "sea_op_resolver.h").read_text()
    assert re.findall(r"resolver\.(Add\w+)\(\)", resolver) == [
        "Add" + "".join(p.capitalize() if not p[0].isdigit() else p for p in op.split("_"))
        for op in manifest["ops"]]
    assert f"MicroMutableOpResolver<{len(manifest['ops'])}>" in resolver
    source = (micro / "model_data.cc").read_text()
    assert "alignas(16) const unsigned char g_sea_model_data[]" in source
    body = source.split("{", 1)[1].split("}", 1)[0]
    assert bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", body)) == model
    header = (micro / "model_data.h").read_text()
    assert f"kSeaArenaBytes = {manifest['arena_bytes']};" in header
    budget = manifest["budget"]
    assert 0 < manifest["arena_bytes"] == budget["ram_parts_bytes"]["arena"]
    assert budget["flash_parts_bytes"]["model"] == len(model)
    for name, board in budget["boards"].items():
        assert board["ram_bytes"] == BOARDS[name].ram_bytes
        assert board["fits"] == (board["ram_used_bytes"] <= board["ram_bytes"]
                                 and board["flash_used_bytes"] <= board["flash_bytes"])
    assert budget["boards"]["stm32h7"]["fits"]
    # stm32h7 (the default board) has a double-precision FPU: the frontend defaults to float64
    assert budget["frontend_precision"] == "float64"
    assert "#define SEA_FRONTEND_F64 1" in (micro / "sea_frontend_params.h").read_text()


def test_micro_model_is_fully_integer_and_matches_tflite(micro_bundle, tiny_checkpoint):
    """TFLM on fresh windows vs the TFLite int8 bundle and the float torch model."""
    from deploy.exporter import torch_embed
    from deploy.micro.build import TFLMModel
    from deploy.micro.embedder import MicroEmbedder
    from deploy.micro.integer_model import InputRule
    from deploy.parity import cosine
    from deploy.representative import generated_windows
    from sea.bundle import BundleEmbedder, load_interpreter
    from sea.manifest import read_manifest
    from training.checkpoint import build_model

    micro = micro_bundle / "micro"
    manifest = read_manifest(micro, kind="sea-micro")
    interpreter = load_interpreter()(model_path=str(micro / "model_int8.tflite"))
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8
    rule = InputRule(**manifest["input_rule"])
    q = manifest["output_quantization"]
    tflm = TFLMModel(micro / "model_int8.tflite", rule, (q["scale"], q["zero_point"]),
                     manifest["arena_bytes"])
    embedder = BundleEmbedder(micro_bundle)
    windows = generated_windows(8000, 6, seed=5).windows
    micro_out = embedder.bundle.embedding(np.stack([tflm(x) for x in embedder.frontend(windows)]))
    # the featurizer `sea evaluate --model BUNDLE/micro` uses is this same path
    assert np.array_equal(MicroEmbedder(micro).embed_windows(windows), micro_out)
    float_model = build_model(str(tiny_checkpoint), dft_mode="matmul")
    assert cosine(embedder.embed_windows(windows), micro_out).min() >= 0.999
    # TFLite's builtin integer kernels are tflite-micro's: one quantization step at most
    builtin = BundleEmbedder(micro_bundle, reference_kernels=True).embed_windows(windows)
    assert np.abs(builtin - micro_out).max() <= 1.001 * q["scale"] * embedder.bundle.output_scale.max()
    assert "vs_tflite_int8_xnnpack" in manifest["parity"]  # the node's run, reported beside it
    assert cosine(torch_embed(float_model.eval(), windows), micro_out).mean() >= 0.99


def test_evaluate_names_a_micro_build_and_refuses_a_changed_one(micro_bundle, tmp_path):
    from deploy.micro.embedder import MicroEmbedder
    from sea.errors import SeaError
    from sea.models import ModelKind, describe, load_embedder, model_id, parse_model

    spec = parse_model(str(micro_bundle / "micro"))
    assert spec.kind is ModelKind.MICRO and model_id(spec) == model_id(spec)
    assert describe(spec).endswith(", int8 TFLite Micro build")
    embedder = load_embedder(spec)
    assert isinstance(embedder, MicroEmbedder) and embedder.name.endswith("-tflm-int8")
    changed = tmp_path / "bundle"
    shutil.copytree(micro_bundle, changed)
    model = changed / "micro" / "model_int8.tflite"
    data = bytearray(model.read_bytes())
    data[-1] ^= 1
    model.write_bytes(bytes(data))
    assert model_id(parse_model(str(changed / "micro"))) != model_id(spec)
    with pytest.raises(SeaError, match="does not match the sha256"):
        MicroEmbedder(changed / "micro")


def test_micro_refuses_a_board_it_does_not_fit(tmp_path, tiny_checkpoint, calibration_store,
                                               monkeypatch, caplog):
    from deploy.micro import budget
    from sea.cli import main

    monkeypatch.setitem(budget.BOARDS, "cortex-m4", budget.Board(
        "cortex-m4", "shrunk for the test", 1024 * budget.KIB, 40 * budget.KIB, False))
    store = calibration_store
    out = tmp_path / "bundle"
    code = main(["export", str(tiny_checkpoint), "--out", str(out), "--target", "micro",
                 "--board", "cortex-m4", "--frontend", "outside", "--calibration", str(store),
                 "--calibration-windows", "8", "--parity-windows", "4"])
    assert code == 2  # the node bundle is kept; only the micro build is refused
    assert not (out / "micro").exists()
    report = json.loads((out / "micro-refused.json").read_text())
    assert any("does not fit cortex-m4" in p for p in report["problems"])
    assert "does not fit cortex-m4" in caplog.text
