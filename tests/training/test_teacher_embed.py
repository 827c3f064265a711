"""`sea teacher-embed`: alignment with the window index, shards, resume, teacher choice."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from sea.cli import main
from sea.embedding_store import EmbeddingStore, shard_path
from sea.errors import SeaError
from sea.store import ClipStore
from training.checkpoint import build_model
from training.embedder import Embedder
from training.teacher import load_teacher
from training.settings.teacher_embed import TeacherEmbedSettings
from training.teacher_embed import embed_store


@pytest.fixture(scope="module")
def embedded(embed_store_cli, tmp_path_factory):
    return embed_store_cli(tmp_path_factory.mktemp("emb") / "emb", 0.5, "--shard-rows", "16")


def test_rows_follow_the_window_index(embedded, tiny_store, tiny_teacher):
    store = ClipStore(tiny_store)
    emb = EmbeddingStore(embedded)
    index = store.window_index(1.0, 0.5, False)
    assert len(emb) == len(index) and emb.num_shards == -(-len(index) // 16)
    emb.check_clip_store(store)
    # Each clip's rows equal embedding the clip on its own, as `sea embed` would.
    embedder = Embedder(build_model(str(tiny_teacher)), device="cpu")
    for pos in (0, 5, len(store) - 1):
        rows = np.flatnonzero(index.clip_pos == pos)
        expected, _ = embedder.embed(store.audio_at(pos), store.sample_rate, 0.5, center=False)
        np.testing.assert_allclose(emb.rows(rows), expected, rtol=1e-4, atol=1e-5)


def test_float16_and_rows_gather(tiny_store, tiny_teacher, tmp_path, embedded):
    embed_store(TeacherEmbedSettings(store=tiny_store, teacher=str(tiny_teacher),
                                     out=tmp_path / "e16", hop=0.5, float16=True, shard_rows=16,
                                     threads=1))
    half = EmbeddingStore(tmp_path / "e16")
    assert half.shard(0).dtype == np.float16
    full = EmbeddingStore(embedded).all()
    np.testing.assert_allclose(half.all(), full, rtol=1e-2, atol=1e-2)
    rows = np.array([40, 3, 17])
    np.testing.assert_array_equal(half.rows(rows), half.all()[rows])


def test_resume_recomputes_only_missing_shards(tiny_store, tiny_teacher, tmp_path, embedded):
    out = tmp_path / "emb"
    settings = TeacherEmbedSettings(store=tiny_store, teacher=str(tiny_teacher), out=out,
                                    hop=0.5, shard_rows=16, threads=1)
    embed_store(settings)
    # Simulate a crash: the last shard never landed and the manifest still says "writing".
    shard_path(out, 3).unlink()
    manifest = (out / "manifest.json").read_text().replace('"complete"', '"writing"')
    (out / "manifest.json").write_text(manifest)
    with pytest.raises(ValueError, match="incomplete"):
        EmbeddingStore(out)
    kept = {s: shard_path(out, s).stat().st_mtime_ns for s in range(3)}
    embed_store(settings)
    assert {s: shard_path(out, s).stat().st_mtime_ns for s in range(3)} == kept
    np.testing.assert_array_equal(EmbeddingStore(out).all(), EmbeddingStore(embedded).all())
    with pytest.raises(ValueError, match="hop_seconds"):
        embed_store(settings.replace(hop=0.25))


def test_auto_teacher_never_falls_back_to_random_weights(monkeypatch, tmp_path, caplog,
                                                         fixtures_dir):
    import training.teacher as teacher

    monkeypatch.setenv("SEA_HOME", str(tmp_path))
    with monkeypatch.context() as nothing_local:  # no cache, no installed package, no bundled file
        nothing_local.setattr(teacher, "find_local", lambda name: None)
        _, shipped = load_teacher("auto")  # a fresh install: the weights shipped with sea
        assert shipped["name"] == "edgel3-sea-64" and shipped["source"] == "weights"
        nothing_local.setattr(teacher, "bundled_path", lambda name: None)
        with pytest.raises(SeaError, match="random:openl3-mel256-env") as err:
            load_teacher("auto", seed=3)
        assert "teacher openl3-mel256-env" in str(err.value)  # named as the parameter
    with caplog.at_level(logging.WARNING):
        model, info = load_teacher("random:openl3-mel256-env", seed=3)  # asked for by name
    assert info["source"] == "random" and info["name"] == "openl3-mel256-env"
    assert "RANDOM-WEIGHT" in caplog.text
    with pytest.raises(SeaError, match="unknown model"):
        load_teacher("random:no-such-model")
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "edgel3_sea_ust_audio_emb_64.h5").symlink_to(
        fixtures_dir / "edgel3_sea_ust_audio_emb_64.h5")
    model, info = load_teacher("auto")
    assert info["name"] == "edgel3-sea-64" and info["source"] == "weights"
    assert model.cfg.embedding_dim == 64


@pytest.mark.parametrize("argv, message", [
    (["--teacher", "no-such-model"], "unknown model"),
    (["--teacher", "x.h5"], "weight file"),
])
def test_bad_arguments_are_explained(tiny_store, tmp_path, caplog, argv, message):
    assert main(["teacher-embed", str(tiny_store), "--out", str(tmp_path / "e"), *argv]) == 2
    assert message in caplog.text


def test_bad_hop_is_refused_when_parsed(tiny_store, tmp_path, capsys):
    assert main(["teacher-embed", str(tiny_store), "--out", str(tmp_path / "e"),
                 "--hop", "0"]) == 2
    assert "--hop: must be greater than 0" in capsys.readouterr().err


def test_a_config_without_published_weights_is_refused_when_parsed(tiny_store, tmp_path,
                                                                    capsys):
    assert main(["teacher-embed", str(tiny_store), "--out", str(tmp_path / "e"),
                 "--teacher", "student3"]) == 2
    assert ("--teacher student3 has no published weights: pass its file with --weights PATH, "
            "or ask for a random-weight network, only good for testing the pipeline, with "
            "--teacher random:student3") in capsys.readouterr().err
    assert not (tmp_path / "e").exists()


def test_missing_store_is_explained(tmp_path, caplog):
    assert main(["teacher-embed", str(tmp_path / "nope"), "--out", str(tmp_path / "e")]) == 2
    assert f"{tmp_path / 'nope'} does not exist" in caplog.text


def test_same_command_same_threads_gives_identical_embeddings(embedded, embed_store_cli, tmp_path):
    """Fixed --threads, fixed chunking: a second run writes the same shards to the bit (so
    the quickstart's teacher targets, and everything after them, repeat)."""
    again = embed_store_cli(tmp_path / "again", 0.5, "--shard-rows", "16")
    shards = EmbeddingStore(embedded).num_shards
    assert EmbeddingStore(again).num_shards == shards > 1
    for shard in range(shards):
        a, b = (np.load(shard_path(root, shard), allow_pickle=False) for root in (embedded, again))
        assert a.dtype == b.dtype and np.array_equal(a, b), shard


def test_settings_are_checked_when_made_and_name_parameters(tmp_path):
    """The Python API and the CLI share one check; Python hears parameter names."""
    from sea.settings import SettingError

    with pytest.raises(SettingError, match=r"^block_features runs the float32 teacher in this "
                                           r"process: drop ray and precision bf16$"):
        TeacherEmbedSettings(store=tmp_path, out=tmp_path / "e", block_features=True, ray="local")
    with pytest.raises(SettingError, match="^shard_rows must be at least 1"):
        TeacherEmbedSettings(store=tmp_path, out=tmp_path / "e", shard_rows=0)
    with pytest.raises(SettingError, match="^teacher student3 has no published weights: pass "
                                           "its file with weights PATH, or .* with teacher "
                                           "random:student3$"):
        TeacherEmbedSettings(store=tmp_path, out=tmp_path / "e", teacher="student3")


@pytest.fixture(scope="module")
def teacher_bundle(tiny_teacher, tiny_store, tmp_path_factory):
    """The tiny teacher exported as a float32 TFLite bundle (numpy log-mel outside)."""
    out = tmp_path_factory.mktemp("teacher-bundle") / "bundle"
    assert main(["export", str(tiny_teacher), "--out", str(out), "--calibration",
                 str(tiny_store), "--parity-windows", "4"]) == 0
    return out


def test_a_bundle_teacher_embeds_the_same_rows(teacher_bundle, tiny_store, embedded, tmp_path):
    """A bundle (e.g. the teacher exported to int8 for a fast corpus pass) is a teacher: same
    window index and store format; float32 TFLite rows agree with the torch teacher's to the
    export's own float parity bound."""
    from deploy.parity import FLOAT_MIN_COSINE
    from sea.bundle import BundleEmbedder

    out = tmp_path / "from-bundle"
    assert main(["teacher-embed", str(tiny_store), "--teacher", str(teacher_bundle), "--out",
                 str(out), "--hop", "0.5", "--shard-rows", "16"]) == 0
    rows, torch_rows = EmbeddingStore(out).all(), EmbeddingStore(embedded).all()
    assert rows.shape == torch_rows.shape
    cosine = (rows * torch_rows).sum(1) / (np.linalg.norm(rows, axis=1)
                                           * np.linalg.norm(torch_rows, axis=1))
    assert cosine.min() >= FLOAT_MIN_COSINE
    teacher = EmbeddingStore(out).manifest["teacher"]
    assert teacher["source"] == "bundle" and teacher["quantization"] == "none"
    # Exactly what the bundle's own embedder gives for those windows.
    store = ClipStore(tiny_store)
    index = store.window_index(1.0, 0.5, False)
    first = np.flatnonzero(index.clip_pos == 0)
    expected, _ = BundleEmbedder(teacher_bundle).embed(store.audio_at(0), store.sample_rate, 0.5,
                                                       center=False)
    np.testing.assert_array_equal(rows[first], expected)


@pytest.mark.parametrize("argv, flag", [
    (["--precision", "bf16"], "--precision"),
    (["--block-features"], "--block-features"),
    (["--ray", "local"], "--ray"),
])
def test_a_bundle_teacher_refuses_torch_only_options(teacher_bundle, tiny_store, tmp_path, caplog,
                                                     argv, flag):
    assert main(["teacher-embed", str(tiny_store), "--teacher", str(teacher_bundle), "--out",
                 str(tmp_path / "e"), *argv]) == 2
    assert f"{flag} does not apply to a bundle --teacher" in caplog.text
    assert not (tmp_path / "e").exists()
