"""Every way of naming a model, and ids that follow the weights."""

from __future__ import annotations

import shutil

import pytest

from sea.bundle import BUNDLE_KIND
from sea.manifest import write_manifest
from sea.models import ModelKind, describe, model_id, parse_model


def test_config_names_and_keras_files(tmp_path, fixtures_dir):
    assert parse_model("student3").kind is ModelKind.CONFIG
    assert model_id(parse_model("student3")) == "student3-random0"
    h5 = fixtures_dir / "edgel3_sea_ust_audio_emb_64.h5"
    spec = parse_model(f"edgel3-sea-64={h5}")
    assert (spec.kind, spec.name, spec.path) == (ModelKind.KERAS, "edgel3-sea-64", h5)
    weights_spec = parse_model("edgel3-sea-64", weights=str(h5))
    assert model_id(weights_spec) == model_id(spec)
    with pytest.raises(ValueError, match="CONFIG="):
        parse_model(str(h5))
    with pytest.raises(ValueError, match="missing.h5 does not exist"):
        parse_model(f"edgel3-sea-64={tmp_path / 'missing.h5'}")
    with pytest.raises(KeyError, match="unknown model 'student9', and no file or directory"):
        parse_model("student9")  # a mistyped name, or a directory not made yet
    for missing in (tmp_path / "runs" / "student9", tmp_path / "gone.h5", "runs/student9",
                    "./student9"):
        with pytest.raises(ValueError, match=f"{missing} does not exist"):
            parse_model(str(missing))


def test_checkpoint_and_bundle_directories(tmp_path, tiny_student, toy_store):
    spec = parse_model(str(tiny_student))
    assert (spec.kind, spec.name) == (ModelKind.CHECKPOINT, "tiny")
    copy = tmp_path / "tiny"
    shutil.copytree(tiny_student, copy)
    assert model_id(parse_model(str(copy))) == model_id(spec)
    (copy / "model.pt").write_bytes((copy / "model.pt").read_bytes() + b"\0")
    assert model_id(parse_model(str(copy))) != model_id(spec)

    bundle = tmp_path / "bundle"
    write_manifest(bundle, BUNDLE_KIND, {})
    assert parse_model(str(bundle)).kind is ModelKind.BUNDLE
    with pytest.raises(ValueError, match="'clip_store' artifact"):
        parse_model(str(toy_store))


def test_each_kind_is_described_with_its_precision(tmp_path, tiny_student):
    assert describe(parse_model("edgel3-sea-64")) == \
        "edgel3-sea-64, float32 torch, published weights"
    assert describe(parse_model("student3")) == "student3, float32 torch, seeded random weights"
    assert describe(parse_model(str(tiny_student))) == "tiny, float32 torch checkpoint"
    for quantize, precision in [("int8", "int8"), ("float16", "float16"), ("none", "float32")]:
        bundle = tmp_path / quantize
        write_manifest(bundle, BUNDLE_KIND, {"name": "student3"}, quantization=quantize)
        assert describe(parse_model(str(bundle))) == f"student3, {precision} TFLite bundle"
