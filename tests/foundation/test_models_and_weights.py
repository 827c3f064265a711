import gzip
import hashlib
import json

import h5py
import numpy as np
import pytest
import torch

import sea.weights as weights
from sea.cli import main
from sea.configs import (ConfigError, ModelConfig, activation_bytes, count_parameters,
                         custom_config, get_config)
from training.checkpoint import build_model, load_checkpoint, save_checkpoint
from training.keras_h5 import WeightFileMismatch, load_keras_weights
from training.model import L3Net

# SEA_FACTS.md Table 1: params (M), size (MB fp32), activation memory (MB), output dim.
TABLE1 = {
    "openl3-mel256-env": (4.69, 18.80, None, 512),
    "student0": (4.69, 18.80, 0.82, 512),
    "student1": (1.17, 4.70, 0.41, 256),
    "student2": (0.58, 2.34, 0.41, 128),
    "student3": (0.40, 1.60, 0.41, 64),
}


@pytest.mark.parametrize("name", TABLE1)
def test_parameter_counts_match_paper_table(name):
    params, size_mb, act_mb, dim = TABLE1[name]
    cfg = get_config(name)
    model = L3Net(cfg)
    torch_count = sum(p.numel() for p in model.body.parameters()) + sum(
        b.numel() for n, b in model.body.named_buffers() if "running" in n)
    assert torch_count == count_parameters(cfg)
    trainable = count_parameters(cfg, trainable_only=True)
    assert trainable == sum(p.numel() for p in model.body.parameters())
    assert round(trainable / 1e6, 2) == params
    assert abs(count_parameters(cfg) * 4 / 1e6 - size_mb) / size_mb < 0.005
    if act_mb is not None:
        assert round(activation_bytes(cfg) / 1e6, 2) == act_mb
    assert cfg.embedding_dim == dim
    with torch.no_grad():
        assert model(torch.zeros(2, cfg.frontend.window_samples)).shape == (2, dim)


@pytest.mark.parametrize("name", ["openl3-mel256-env-6144", "openl3-mel128-music-6144",
                                  "openl3-linear-env-6144"])
def test_openl3_6144_embeddings(name):
    model = L3Net(get_config(name)).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 48000) * 0.1).shape == (1, 6144)


def test_published_edgel3_file_loads_and_counts(fixtures_dir):
    model = build_model("edgel3-sea-64", weights=fixtures_dir / "edgel3_sea_ust_audio_emb_64.h5")
    with h5py.File(fixtures_dir / "edgel3_sea_ust_audio_emb_64.h5") as f:
        stored_mel = np.asarray(f["model_weights/melspectrogram_1/melspectrogram_1/Variable:0"])
    np.testing.assert_array_equal(model.frontend.mel_basis.numpy(), stored_mel)


def _write_keras_file(path, model):
    """A weights-only Keras layout written from a torch model (round-trip test)."""
    layers = []
    for i, m in enumerate(model.body.modules()):
        if isinstance(m, torch.nn.Conv2d):
            layers.append((f"conv2d_{i}", {"kernel:0": m.weight.detach().numpy().transpose(2, 3, 1, 0),
                                           "bias:0": m.bias.detach().numpy()}))
        elif isinstance(m, torch.nn.BatchNorm2d):
            layers.append((f"batch_normalization_{i}", {
                "gamma:0": m.weight.detach().numpy(), "beta:0": m.bias.detach().numpy(),
                "moving_mean:0": m.running_mean.numpy(), "moving_variance:0": m.running_var.numpy()}))
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"input_1"] + [n.encode() for n, _ in layers]
        f.create_group("input_1").attrs["weight_names"] = []
        for name, ws in layers:
            g = f.create_group(name)
            g.attrs["weight_names"] = [f"{name}/{k}".encode() for k in ws]
            for k, v in ws.items():
                g[f"{name}/{k}"] = v


def test_keras_round_trip_and_first_mismatch_is_named(tmp_path):
    cfg = custom_config((4, 8, 8, 16))
    torch.manual_seed(0)
    source = L3Net(cfg).eval()
    for m in source.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    _write_keras_file(tmp_path / "w.h5", source)
    target = L3Net(cfg).eval()
    load_keras_weights(target, tmp_path / "w.h5")
    x = torch.randn(2, 8000) * 0.1
    with torch.no_grad():
        torch.testing.assert_close(target(x), source(x))
    wrong = L3Net(custom_config((4, 8, 16, 16)))
    with pytest.raises(WeightFileMismatch, match=r"conv2d_\d+/kernel has shape \(3, 3, 8, 8\)"):
        load_keras_weights(wrong, tmp_path / "w.h5")


def test_checkpoint_round_trip(tmp_path):
    model = L3Net(custom_config((4, 8, 8, 16))).eval()
    save_checkpoint(tmp_path / "ckpt", model, {"note": "test"})
    loaded = build_model(str(tmp_path / "ckpt"))
    assert loaded.cfg == model.cfg
    x = torch.randn(1, 8000)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
    assert json.loads((tmp_path / "ckpt" / "manifest.json").read_text())["note"] == "test"
    assert load_checkpoint(tmp_path / "ckpt").cfg.filters == (4, 8, 8, 16)


def test_students_bound_their_hidden_activations_and_older_checkpoints_keep_relu(tmp_path):
    """Students train with ReLU6 in their hidden layers (fixed int8 ranges), the published
    models keep ReLU, and a config written before the field existed reads as ReLU."""
    student = L3Net(get_config("student3"))
    hidden = [m for m in student.modules() if isinstance(m, (torch.nn.ReLU, torch.nn.ReLU6))]
    assert [type(m) for m in hidden] == [torch.nn.ReLU6] * 7 + [torch.nn.ReLU]
    teacher = L3Net(get_config("edgel3-sea-64"))
    assert not any(isinstance(m, torch.nn.ReLU6) for m in teacher.modules())
    saved = custom_config((4, 8, 8, 16)).to_dict()
    assert saved["activation"] == "relu6"
    del saved["activation"]
    assert ModelConfig.from_dict(saved).activation == "relu"
    with pytest.raises(ConfigError, match="activation 'gelu' not in"):
        ModelConfig.from_dict({**saved, "activation": "gelu"})


def test_custom_config_rejects_inconsistent_dim():
    with pytest.raises(ValueError, match="must equal the last block"):
        custom_config((16, 32, 32, 64), dim=128)


# --- weight registry -------------------------------------------------------------------

@pytest.fixture
def sea_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SEA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _serve_gz(tmp_path, payload: bytes):
    gz = tmp_path / "served.h5.gz"
    gz.write_bytes(gzip.compress(payload))
    return gz, hashlib.sha256(gz.read_bytes()).hexdigest()


def test_download_checks_sha_and_caches(tmp_path, sea_home, monkeypatch):
    gz, digest = _serve_gz(tmp_path, b"weights-bytes")
    source = weights.WeightSource("x.h5", gz.as_uri(), "no_such_package_xyz", sha256=digest)
    monkeypatch.setitem(weights.WEIGHT_SOURCES, "toy", source)
    path = weights.resolve_weights("toy")
    assert path == sea_home / "weights" / "x.h5" and path.read_bytes() == b"weights-bytes"
    gz.unlink()  # second resolution must come from the cache, not the network
    assert weights.resolve_weights("toy") == path


def test_download_with_bad_checksum_leaves_nothing(tmp_path, sea_home, monkeypatch):
    gz, _ = _serve_gz(tmp_path, b"tampered")
    monkeypatch.setitem(weights.WEIGHT_SOURCES, "toy",
                        weights.WeightSource("x.h5", gz.as_uri(), "none", sha256="0" * 64))
    with pytest.raises(weights.WeightsUnavailable, match="checksum mismatch"):
        weights.resolve_weights("toy")
    assert not any((sea_home / "weights").iterdir())


def test_offline_error_names_file_url_and_directory(sea_home, monkeypatch):
    monkeypatch.setitem(weights.WEIGHT_SOURCES, "toy", weights.WeightSource(
        "toy.h5", "http://127.0.0.1:9/toy.h5.gz", "none"))
    with pytest.raises(weights.WeightsUnavailable) as err:
        weights.resolve_weights("toy")
    message = str(err.value)
    assert "toy.h5" in message and "http://127.0.0.1:9/toy.h5.gz" in message
    assert str(sea_home / "weights") in message


def test_installed_package_directory_is_searched(tmp_path, sea_home, monkeypatch):
    pkg = tmp_path / "site" / "edgel3"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "edgel3_sea_ust_audio_emb_128.h5").write_bytes(b"x")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert weights.resolve_weights("edgel3-sea-128") == pkg / "edgel3_sea_ust_audio_emb_128.h5"
    # a package copy of a file with a published digest must match it
    (pkg / "edgel3_sea_ust_audio_emb_64.h5").write_bytes(b"x")
    with pytest.raises(weights.WeightsUnavailable, match="published file"):
        weights.resolve_weights("edgel3-sea-64")


def test_models_cli_json(capsys):
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["student2"]["params"] == 583010 and rows["edgel3-sea-64"]["pretrained"]


def test_download_weights_command_fetches_checks_and_reports(tmp_path, sea_home, monkeypatch,
                                                             capsys):
    gz, digest = _serve_gz(tmp_path, b"weights-bytes")
    monkeypatch.setitem(weights.WEIGHT_SOURCES, "edgel3-sea-128",
                        weights.WeightSource("x.h5", gz.as_uri(), "none", sha256=digest))
    assert main(["download", "weights", "edgel3-sea-128"]) == 0
    assert "edgel3-sea-128: " in capsys.readouterr().out and (sea_home / "weights" / "x.h5").is_file()
    assert main(["download", "weights", "edgel3-sea-128"]) == 0
    assert "already present" in capsys.readouterr().out
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["edgel3-sea-128"]["weights_path"] == str(sea_home / "weights" / "x.h5")
    assert main(["models"]) == 0
    table = capsys.readouterr().out
    present = next(line for line in table.splitlines() if line.startswith("Present: "))
    # The shipped file may sort before or after the tmp path, depending on the checkout's path.
    assert str(sea_home / "weights" / "x.h5") in present.removeprefix("Present: ").split(", ")
    monkeypatch.setitem(weights.WEIGHT_SOURCES, "bad",
                        weights.WeightSource("y.h5", gz.as_uri(), "none", sha256="0" * 64))
    assert main(["download", "weights", "bad"]) == 1  # checksum mismatch: nothing kept
    assert not (sea_home / "weights" / "y.h5").exists()
    assert main(["download", "weights", "no-such-model"]) == 2
