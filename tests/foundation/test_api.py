"""The Python API (`sea.load_model`, `sea.get_audio_embedding`, `sea.process_audio_file`):
light import, the same arrays as `sea embed` writes, batching across inputs."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

import sea
from sea.cli import main
from sea.configs import custom_config
from sea.errors import SeaError
from training.checkpoint import save_checkpoint
from training.model import L3Net

RATE = 8000  # the students' rate: no resampling, so arrays and files give the same windows


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    import torch

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny"
    save_checkpoint(path, L3Net(custom_config((4, 8, 8, 16))).eval())
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Three noisy tones of different lengths at 8 and 22.05 kHz."""
    d = tmp_path_factory.mktemp("audio")
    rng = np.random.default_rng(0)
    paths = []
    for i, (sr, seconds) in enumerate([(RATE, 1.7), (22050, 2.3), (RATE, 0.6)]):
        t = np.arange(int(sr * seconds)) / sr
        x = 0.3 * np.sin(2 * np.pi * (300 + 200 * i) * t) + 0.02 * rng.standard_normal(len(t))
        sf.write(d / f"clip{i}.wav", x, sr, subtype="FLOAT")
        paths.append(d / f"clip{i}.wav")
    return paths


def test_import_sea_imports_neither_torch_nor_numpy():
    light = subprocess.run([sys.executable, "-c", "import sys, sea; "
                            "print('torch' in sys.modules, 'numpy' in sys.modules)"],
                           capture_output=True, text=True, check=True)
    assert light.stdout.split() == ["False", "False"]
    with pytest.raises(AttributeError):
        sea.no_such_function


def test_api_returns_exactly_what_sea_embed_writes(tmp_path, tiny_ckpt, clips):
    out = tmp_path / "out"
    assert main(["embed", "--model", str(tiny_ckpt), "--hop", "0.25", "--batch-size", "3",
                 "--output-dir", str(out), *map(str, clips)]) == 0
    model = sea.load_model(tiny_ckpt, batch_size=3)
    for clip in clips:
        written = np.load(out / f"{clip.stem}.npz", allow_pickle=False)
        emb, ts = sea.get_audio_embedding(clip, model=model, hop=0.25, batch_size=3)
        np.testing.assert_array_equal(emb, written["embedding"])
        np.testing.assert_array_equal(ts, written["timestamps"])
        assert str(written["model_id"]) == model.model_id
        settings = json.loads(str(written["settings_json"]))
        assert settings["hop"] == 0.25 and settings["center"] is True
        assert settings["model_id"] == model.model_id and settings["dim"] == 16


def test_lists_are_batched_across_inputs(tiny_ckpt, clips):
    model = sea.load_model(str(tiny_ckpt), device="cpu")
    singles = [sea.get_audio_embedding(c, model=model, hop=0.5) for c in clips]
    calls = []
    forward = model.embedder.embed_windows
    model.embedder.embed_windows = lambda w: calls.append(len(w)) or forward(w)
    embs, stamps = sea.get_audio_embedding(clips, model=model, hop=0.5, batch_size=4)
    total = sum(len(e) for e, _ in singles)
    assert calls == [4] * (total // 4) + ([total % 4] if total % 4 else [])  # full batches
    assert len(embs) == len(clips)
    for (emb, ts), got, got_ts in zip(singles, embs, stamps):
        # per-window results; only the batch composition differs (float32 round-off)
        np.testing.assert_allclose(got, emb, rtol=1e-5, atol=1e-5 * np.abs(emb).max())
        np.testing.assert_array_equal(got_ts, ts)


def test_arrays_equal_files_and_channels_are_averaged(tiny_ckpt, clips):
    model = sea.load_model(tiny_ckpt)
    audio, sr = sf.read(clips[0], dtype="float64")
    from_file, _ = sea.get_audio_embedding(clips[0], model=model)
    from_array, ts = sea.get_audio_embedding(audio, sr, model=model)
    np.testing.assert_array_equal(from_array, from_file)
    assert ts[1] == pytest.approx(0.1)
    stereo, _ = sea.get_audio_embedding(np.stack([audio, audio], axis=1), sr, model=model)
    np.testing.assert_array_equal(stereo, from_array)
    both, _ = sea.get_audio_embedding([audio, audio[:RATE]], [sr, sr], model=model)
    assert len(both) == 2 and both[1].shape[1] == 16


def test_batches_are_lists_and_tensors_come_back_as_tensors(tiny_ckpt, clips):
    """The input rule of sea.openl3 too: (n_sounds, n_samples) is refused, not averaged."""
    import torch

    model = sea.load_model(tiny_ckpt)
    audio, sr = sf.read(clips[0], dtype="float64")
    with pytest.raises(SeaError, match="list of 1-D arrays") as err:
        sea.get_audio_embedding(np.stack([audio, audio]), sr, model=model)
    assert isinstance(err.value, ValueError)
    ref, ref_ts = sea.get_audio_embedding(audio, sr, model=model)
    emb, ts = sea.get_audio_embedding(torch.from_numpy(audio), sr, model=model)
    assert isinstance(emb, torch.Tensor) and isinstance(ts, torch.Tensor)
    np.testing.assert_array_equal(emb.numpy(), ref)
    np.testing.assert_array_equal(ts.numpy(), ref_ts)
    embs, _ = sea.get_audio_embedding([torch.from_numpy(audio), clips[0]], sr, model=model)
    assert isinstance(embs[0], torch.Tensor) and isinstance(embs[1], np.ndarray)


def test_process_audio_file_writes_what_sea_embed_writes(tmp_path, tiny_ckpt, clips):
    assert main(["embed", "--model", str(tiny_ckpt), "--output-dir", str(tmp_path / "cli"),
                 str(clips[1])]) == 0
    outs = sea.process_audio_file(clips[1:], model=str(tiny_ckpt), output_dir=tmp_path / "api")
    assert [p.name for p in outs] == ["clip1.npz", "clip2.npz"]
    cli = np.load(tmp_path / "cli" / "clip1.npz")
    api = np.load(outs[0])
    assert sorted(cli.files) == sorted(api.files)
    np.testing.assert_allclose(api["embedding"], cli["embedding"], rtol=1e-5,
                               atol=1e-5 * np.abs(cli["embedding"]).max())
    assert str(api["settings_json"]) == str(cli["settings_json"])


def test_bad_arguments_are_clear(tiny_ckpt, tmp_path):
    model = sea.load_model(tiny_ckpt)
    with pytest.raises(SeaError, match="sample rate"):  # and ValueErrors, as in openl3
        sea.get_audio_embedding(np.zeros(RATE), model=model)
    with pytest.raises(ValueError, match="NaN"):
        sea.get_audio_embedding(np.full(RATE, np.nan), RATE, model=model)
    (tmp_path / "mystery.h5").write_bytes(b"")
    with pytest.raises(SeaError, match="architecture"):  # one root for every bad argument
        sea.load_model(tmp_path / "mystery.h5")
    with pytest.raises(SeaError, match="gone does not exist"):
        sea.load_model(tmp_path / "gone")


def test_config_name_loads_seeded_random_init_for_weightless_students():
    a = sea.load_model("student3", device="cpu")
    b = sea.load_model("student3", device="cpu")
    x = np.random.default_rng(1).standard_normal(RATE * 2) * 0.1
    np.testing.assert_array_equal(sea.get_audio_embedding(x, RATE, model=a)[0],
                                  sea.get_audio_embedding(x, RATE, model=b)[0])
    assert a.model_id == "student3-random0" and a.dim == 64
