"""`sea prepare --audio-dtype`: int16 stores are half the size, read back within half a
quantization step of the float32 store, and keep their own verified digest."""

from __future__ import annotations

import numpy as np

from sea.cli import main
from sea.store import ClipStore, SHARD_DIR

HALF_STEP = 0.5 / 32768  # int16 rounding error bound, in full-scale units


def _prepare(src, out, *extra) -> ClipStore:
    assert main(["prepare", f"folder:{src}", "--out", str(out), "--sample-rate", "16000",
                 "--no-progress", *extra]) == 0
    return ClipStore(out)


def test_int16_is_the_default_for_16_bit_sources_and_reads_back(tmp_path, write_audio):
    src = tmp_path / "rec"
    for i in range(3):
        write_audio(src / f"{i}.wav", seconds=0.5, sr=22050, seed=i)  # PCM_16 by default
    narrow = _prepare(src, tmp_path / "int16")
    wide = _prepare(src, tmp_path / "float32", "--audio-dtype", "float32")
    assert narrow.manifest["config"]["dtype"] == "<i2"
    size = {s: sum(p.stat().st_size for p in (s.path / SHARD_DIR).iterdir())
            for s in (narrow, wide)}
    assert 2 * size[narrow] == size[wide]
    for pos in range(len(wide)):
        a, b = narrow.audio_at(pos), wide.audio_at(pos)
        assert a.dtype == np.float32 and len(a) == len(b)
        assert np.max(np.abs(a - b)) <= HALF_STEP * (1 + 1e-6)
    index = narrow.window_index(0.25, 0.25)
    assert np.allclose(narrow.read_windows(index, range(len(index))),
                       wide.read_windows(index, range(len(index))), rtol=0, atol=HALF_STEP * 1.01)
    assert narrow.verify() == []
    assert narrow.content_sha256() == narrow.manifest["content_sha256"]
    assert narrow.content_sha256() != wide.content_sha256()  # different stored content


def test_wider_sources_stay_float32_and_a_store_keeps_its_type(tmp_path, write_audio):
    src = tmp_path / "rec"
    write_audio(src / "a.wav", seconds=0.3, sr=16000, subtype="PCM_24")
    store = _prepare(src, tmp_path / "store")
    assert store.manifest["config"]["dtype"] == "<f4"
    write_audio(src / "b.wav", seconds=0.3, sr=16000, seed=1)  # 16-bit, appended later
    assert _prepare(src, tmp_path / "store").manifest["config"]["dtype"] == "<f4"
    assert main(["prepare", f"folder:{src}", "--out", str(tmp_path / "store"),
                 "--sample-rate", "16000", "--no-progress", "--audio-dtype", "int16"]) == 2
