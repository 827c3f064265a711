"""Bad, odd and long inputs: skipped with a reason or handled, never a crashed batch."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from data_prep import decode
from data_prep.decode import decoded_blocks, materialize
from data_prep.prepare import prepare
from data_prep.settings.prepare import PrepareSettings
from data_prep.tasks import ClipTask
from sea.audio import AudioError, resample
from sea.store import ClipStore

SR = 48000


def _truncate(path, keep: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.fixture
def messy_folder(tmp_path, write_audio):
    src = tmp_path / "messy"
    write_audio(src / "good.wav", sr=22050)
    write_audio(src / "stereo.flac", sr=44100, channels=2, seed=1)
    (src / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(range(256)) * 4)
    (src / "empty.wav").write_bytes(b"")
    (src / "notes.txt").write_text("not audio at all\n")
    write_audio(src / "trunc.wav", seconds=1.0, sr=16000, seed=2)
    _truncate(src / "trunc.wav", 0.5)
    write_audio(src / "trunc.flac", seconds=1.0, sr=16000, seed=3)
    _truncate(src / "trunc.flac", 0.5)
    nan = np.zeros(8000)
    nan[100] = np.nan
    sf.write(src / "nan.wav", nan, 8000, subtype="FLOAT")
    sf.write(src / "inf.wav", np.full(8000, np.inf), 8000, subtype="FLOAT")
    sf.write(src / "noframes.wav", np.zeros(0), 8000)
    return src


EXPECTED_REASONS = {
    "corrupt.wav": "not readable as audio",
    "empty.wav": "empty file",
    "notes.txt": "not readable as audio",
    "trunc.wav": "truncated",
    "trunc.flac": "",  # libsndfile's own words (lost sync / truncated): any reason will do
    "nan.wav": "NaN/Inf",
    "inf.wav": "NaN/Inf",
    "noframes.wav": "no audio frames",
}


@pytest.mark.parametrize("workers", [1, 2])
def test_bad_inputs_are_skipped_with_reasons(tmp_path, messy_folder, workers):
    out = tmp_path / f"store{workers}"
    manifest = prepare(PrepareSettings(sources=(f"folder:{messy_folder}",), out=out,
                                       sample_rate=SR, workers=workers, progress=False))
    store = ClipStore(out)
    assert sorted(r.clip_id for r in store.records) == ["messy/good.wav", "messy/stereo.flac"]
    reasons = {row["path"].rsplit("/", 1)[-1]: row["reason"] for row in manifest["skipped"]}
    assert set(reasons) == set(EXPECTED_REASONS)
    for name, expected in EXPECTED_REASONS.items():
        assert expected in reasons[name] and reasons[name], (name, reasons[name])


def test_stereo_is_downmixed(tmp_path, write_audio):
    written = write_audio(tmp_path / "in" / "st.wav", sr=SR, channels=2, subtype="FLOAT")
    prepare(PrepareSettings(sources=(f"folder:{tmp_path / 'in'}",), out=tmp_path / "s",
                            sample_rate=SR, progress=False))
    np.testing.assert_allclose(ClipStore(tmp_path / "s").audio("in/st.wav"),
                               written.mean(axis=1), atol=1e-6)


@pytest.mark.parametrize("sr_in", [8000, 11025, 16000, 22050, 44100, 48000, 96000])
def test_any_rate_from_8_to_96_khz(tmp_path, sr_in):
    n = int(0.37 * sr_in)
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(n) / sr_in)
    sf.write(tmp_path / "t.wav", tone, sr_in, subtype="FLOAT")
    out = np.concatenate(list(decoded_blocks(tmp_path / "t.wav", SR, block_frames=997)))
    assert out.dtype == np.float32 and len(out) == n * SR // sr_in
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * SR / len(out) - 440) < 5


def test_streamed_resampling_matches_one_shot(tmp_path):
    x = np.random.default_rng(0).uniform(-0.5, 0.5, 44100 * 3)
    sf.write(tmp_path / "long.wav", x, 44100, subtype="FLOAT")
    streamed = np.concatenate(list(decoded_blocks(tmp_path / "long.wav", SR, block_frames=5000)))
    one_shot = resample(x.astype(np.float32), 44100, SR)
    assert len(streamed) == len(one_shot)
    np.testing.assert_allclose(streamed, one_shot, atol=1e-4)


def test_missing_file_is_an_audio_error(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        list(decoded_blocks(tmp_path / "gone.wav", SR))


def test_long_results_go_through_a_spool_file(tmp_path, monkeypatch, write_audio):
    src = tmp_path / "long"
    for i in range(3):
        write_audio(src / f"{i}.wav", seconds=1.5, sr=16000, seed=i)
    task = ClipTask("x", "s", "d", path=str(src / "0.wav"))
    monkeypatch.setattr(decode, "SPOOL_SAMPLES", 20000)
    spooled = materialize(task, SR, str(tmp_path))
    assert spooled.audio is None and spooled.spool
    in_memory = np.concatenate(list(decoded_blocks(src / "0.wav", SR)))
    np.testing.assert_array_equal(np.concatenate(list(spooled.blocks(block_samples=7000))),
                                  in_memory)
    spooled.discard()
    # Through the worker pool (forked workers inherit the small spool limit).
    prepare(PrepareSettings(sources=(f"folder:{src}",), out=tmp_path / "pool", sample_rate=SR,
                            workers=2, progress=False))
    monkeypatch.undo()
    prepare(PrepareSettings(sources=(f"folder:{src}",), out=tmp_path / "inproc",
                            sample_rate=SR, workers=1, progress=False))
    a, b = ClipStore(tmp_path / "pool"), ClipStore(tmp_path / "inproc")
    assert [r.clip_id for r in a.records] == [r.clip_id for r in b.records]
    assert a.content_sha256() == b.content_sha256()
    assert not (tmp_path / "pool" / ".spool").exists()
