"""`sea embed` on good and bad inputs (tiny random-weight student, generated audio)."""

import json

import numpy as np
import pytest
import soundfile as sf

from sea.cli import main
from sea.configs import custom_config
from training.checkpoint import save_checkpoint
from training.model import L3Net


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny"
    save_checkpoint(path, L3Net(custom_config((4, 8, 8, 16))).eval())
    return path


def _tone(sr, seconds, channels=1):
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * 440 * t)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


@pytest.fixture
def inputs(tmp_path):
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    for sr in (8000, 22050, 44100, 96000):
        sf.write(d / f"tone_{sr}.wav", _tone(sr, 1.5), sr)
    sf.write(d / "sub" / "stereo.flac", _tone(16000, 2.0, channels=2), 16000)
    sf.write(d / "silence.wav", np.zeros(8000), 8000)
    sf.write(d / "short.wav", _tone(8000, 0.3), 8000)
    sf.write(d / "nan.wav", np.full(8000, np.nan), 8000, subtype="FLOAT")
    (d / "empty.wav").write_bytes(b"")
    sf.write(d / "truncated.wav", _tone(8000, 1.0), 8000)
    (d / "truncated.wav").write_bytes((d / "truncated.wav").read_bytes()[:30])
    (d / "notaudio.wav").write_bytes(b"this is not audio at all" * 20)
    return d


def test_embed_directory_skips_bad_files_and_keeps_good_ones(tmp_path, inputs, tiny_ckpt, caplog):
    out = tmp_path / "out"
    rc = main(["embed", "--model", str(tiny_ckpt), "--output-dir", str(out), "--suffix", "t",
               "--hop", "0.25", str(inputs)])
    assert rc == 1  # some inputs failed
    written = sorted(p.name for p in out.glob("*.npz"))  # beside them: the output's .lock
    assert written == sorted(f"{n}_t.npz" for n in [
        "tone_8000", "tone_22050", "tone_44100", "tone_96000", "stereo", "silence", "short"])
    for name in written:
        data = np.load(out / name)
        assert data["embedding"].dtype == np.float32 and data["embedding"].shape[1] == 16
        assert np.isfinite(data["embedding"]).all()
        assert len(data["timestamps"]) == len(data["embedding"])
    assert len(np.load(out / "tone_8000_t.npz")["timestamps"]) == 1 + int(np.ceil((12000 + 4000 - 8000) / 2000))
    text = caplog.text
    for bad in ("empty.wav", "truncated.wav", "notaudio.wav", "nan.wav"):
        assert bad in text
    assert "NaN" in text and "silent" in text and "shorter than one window" in text


def test_existing_outputs_are_kept(tmp_path, inputs, tiny_ckpt):
    out = tmp_path / "out"
    args = ["embed", "--model", str(tiny_ckpt), "--output-dir", str(out),
            str(inputs / "tone_8000.wav")]
    assert main(args) == 0
    marker = out / "tone_8000.npz"
    before = marker.stat().st_mtime_ns
    assert main(args) == 0
    assert marker.stat().st_mtime_ns == before


def test_output_dir_may_be_any_existing_folder(tmp_path, inputs, tiny_ckpt, caplog):
    """A folder of recordings or logs receives the .npz files as the default (beside each input)
    does; only an output file made with other settings is refused (unless --overwrite)."""
    folder = tmp_path / "recordings"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    (folder / "tone_8000.wav").write_bytes((inputs / "tone_8000.wav").read_bytes())
    args = ["embed", "--model", str(tiny_ckpt), "--output-dir", str(folder),
            str(folder / "tone_8000.wav"), str(inputs / "short.wav")]
    assert main(args) == 0
    assert (folder / "tone_8000.npz").is_file() and (folder / "short.npz").is_file()
    assert (folder / "notes.txt").read_text() == "mine"
    assert main([*args, "--hop", "0.5"]) == 1  # other settings: refused, named, kept
    assert "tone_8000.npz: exists but was made by another model or settings" in caplog.text
    assert main([*args, "--hop", "0.5", "--overwrite"]) == 0
    assert np.load(folder / "tone_8000.npz")["timestamps"].tolist() == [0.0, 0.5, 1.0]


def test_no_center_changes_window_count(tmp_path, inputs, tiny_ckpt):
    out = tmp_path / "out"
    assert main(["embed", "--model", str(tiny_ckpt), "--output-dir", str(out), "--no-center",
                 "--hop", "0.5", str(inputs / "tone_8000.wav")]) == 0
    np.testing.assert_allclose(np.load(out / "tone_8000.npz")["timestamps"], [0.0, 0.5])


def test_unknown_model_is_a_clean_error(inputs, capsys):
    assert main(["embed", "--model", "nope", str(inputs / "tone_8000.wav")]) == 2


@pytest.mark.parametrize("resampler", ["soxr", "resampy"])
def test_streamed_file_matches_whole_signal(tmp_path, tiny_ckpt, resampler):
    """Streaming (soxr) and whole-file (resampy) paths give the embedding of the whole signal."""
    from sea.audio import load_audio
    from training.checkpoint import build_model
    from training.embedder import Embedder

    rng = np.random.default_rng(1)
    path = tmp_path / "long.wav"
    sf.write(path, 0.2 * rng.standard_normal(int(22050 * 23.3)), 22050)
    out = tmp_path / "out"
    assert main(["embed", "--model", str(tiny_ckpt), "--output-dir", str(out), "--hop", "0.5",
                 "--resampler", resampler, str(path)]) == 0
    got = np.load(out / "long.npz")
    audio, sr = load_audio(path)
    ref, ts = Embedder(build_model(str(tiny_ckpt)), resampler=resampler).embed(audio, sr, 0.5)
    np.testing.assert_allclose(got["timestamps"], ts)
    np.testing.assert_allclose(got["embedding"], ref, rtol=1e-4, atol=1e-4)
