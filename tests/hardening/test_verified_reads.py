"""Every artifact is verified when read: clip stores (digests, bounds, confined index),
checkpoints (digests required), array files (headers checked before allocating), bounded
counts, and one link rule for every data source."""

from __future__ import annotations

import json
import logging
import re
import shutil
import struct
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest

from lost_support import STORE_RATE, sea, tone, write_wavs
from untrusted_payloads import write_fake_bundle

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path) -> Path:
    from sea.store import StoreWriter

    with StoreWriter(tmp_path / "store", sample_rate=STORE_RATE) as writer:
        for i in range(3):
            writer.add(f"c/{i}", tone(1.0, 300.0 * (i + 1)), source=f"gen{i}", dataset="t",
                       labels=("a",), fold="1")
    return tmp_path / "store"


def _edit_index(store: Path, line: int, **changes) -> None:
    index = store / "index.jsonl"
    rows = [json.loads(r) for r in index.read_text().splitlines()]
    rows[line].update(changes)
    index.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _flip_sample(store: Path, sample: int) -> None:
    shard = next((store / "shards").iterdir())
    data = bytearray(shard.read_bytes())
    data[4 * sample + 1] ^= 0x10
    shard.write_bytes(bytes(data))


# -- clip stores: digests checked as clips are read --------------------------------------------

def test_altered_clip_audio_is_refused_naming_the_clip(store):
    from sea.store import ClipStore, DamagedClip

    _flip_sample(store, STORE_RATE + 100)  # inside clip c/1 (clips are 1 s, back to back)
    clips = ClipStore(store)
    assert clips.audio_at(0).shape == (STORE_RATE,)  # intact clips read as before
    with pytest.raises(DamagedClip, match=r"clip 'c/1' does not match the sha256") as err:
        clips.audio_at(1)
    assert "\n" not in str(err.value)
    with pytest.raises(DamagedClip, match="c/1"):  # also through windowed reads
        list(clips.iter_windows())
    assert clips.verify() == ["c/1"]


def test_each_clip_is_hashed_once_as_it_is_read(store, monkeypatch):
    """The digest costs no extra pass: one hash per clip however many windows read it."""
    import sea.store
    from sea.store import ClipStore

    calls = []
    real = sea.store._audio_sha256
    monkeypatch.setattr(sea.store, "_audio_sha256", lambda a: calls.append(len(a)) or real(a))
    clips = ClipStore(store)
    assert calls == []  # opening reads no audio
    windows = sum(len(rows) for rows, _ in clips.iter_windows(0.25, 0.125, batch_size=3))
    assert windows > 3 * len(clips) and calls == [STORE_RATE] * 3
    clips.content_sha256(), clips.verify()
    assert len(calls) == 3


def test_teacher_embed_refuses_an_altered_store_in_one_line(artifacts, tmp_path, caplog):
    store = tmp_path / "store"
    shutil.copytree(artifacts["store"], store)
    _flip_sample(store, 100)  # inside t/0
    with caplog.at_level(logging.INFO):
        code = sea("teacher-embed", store, "--teacher", artifacts["teacher"], "--out",
                   tmp_path / "emb", "--hop", "0.5", "--threads", "1")
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert code == 2 and len(errors) == 1 and "'t/0'" in errors[0] and "sha256" in errors[0]


# -- clip stores: index lines bounded by the files they point into --------------------------

@pytest.mark.parametrize("changes, reason", [
    ({"offset": -5}, r"'offset' is -5, not an integer >= 0"),
    ({"num_samples": 10**9}, r"claims items \[\d+, \d+\) of its audio shard, which holds"),
    ({"num_samples": 1e9}, r"'num_samples' is 1000000000.0, not an integer"),
    ({"offset": 3 * STORE_RATE}, r"of its audio shard, which holds 48000"),
    ({"loudness_frames": 10**6}, r"of its loudness.f32"),
    ({"shard": 7}, r"audio-00007.f32: missing"),
    ({"labels": 5}, r"'labels' is 5, not a list"),
    ({"sha256": "00"}, r"not a sha256 hex digest"),
    ({"clip_id": "c/0"}, r"lists 'c/0' twice"),
])
def test_index_lines_outside_their_files_are_refused_on_open(store, changes, reason):
    from sea.store import ClipStore, StoreError

    _edit_index(store, 1, **changes)
    start = time.perf_counter()
    with pytest.raises(StoreError, match=reason) as err:
        ClipStore(store)
    assert time.perf_counter() - start < 1.0 and "\n" not in str(err.value)
    assert "index.jsonl" in str(err.value) or "audio-00007" in str(err.value)


@pytest.mark.parametrize("name", ["index.jsonl", "manifest.json"])
def test_store_index_and_manifest_linked_out_are_refused(store, tmp_path, name):
    from sea.errors import SeaError
    from sea.store import ClipStore

    elsewhere = tmp_path / f"elsewhere-{name}"
    shutil.move(store / name, elsewhere)
    (store / name).symlink_to(elsewhere)
    with pytest.raises(SeaError, match=f"'{name}' is a symbolic link leading outside"):
        ClipStore(store)


# -- checkpoints: a manifest without digests is a refusal --------------------------------------

def test_checkpoint_without_digests_and_swapped_weights_is_refused(tmp_path):
    import torch

    from sea.configs import custom_config
    from sea.integrity import IntegrityError
    from training.checkpoint import load_checkpoint, save_checkpoint
    from training.model import L3Net

    torch.manual_seed(0)
    save_checkpoint(tmp_path / "ckpt", L3Net(custom_config((4, 8, 8, 16))).eval())
    save_checkpoint(tmp_path / "other", L3Net(custom_config((4, 8, 8, 16))).eval())
    manifest = json.loads((tmp_path / "ckpt" / "manifest.json").read_text())
    del manifest["files"]
    (tmp_path / "ckpt" / "manifest.json").write_text(json.dumps(manifest))
    shutil.copy(tmp_path / "other" / "model.pt", tmp_path / "ckpt" / "model.pt")
    with pytest.raises(IntegrityError, match="records no digest for model.pt, config.json"):
        load_checkpoint(tmp_path / "ckpt")


# -- array files: headers checked before anything is allocated ---------------------------------

def _deflate_bomb(path: Path, name: str, shape: tuple[int, ...], chunk: int = 1 << 22) -> int:
    """An .npz whose member `name` inflates to `shape` float32 zeros, written without ever
    holding or compressing them: one deflated chunk of zeros, repeated (after a full flush
    each chunk compresses to the same bytes). Returns the file's size."""
    header = _npy_header(shape)
    data_bytes = int(np.prod(shape)) * 4
    assert data_bytes % chunk == 0
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflate.compress(header) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(bytes(chunk)) + deflate.flush(zlib.Z_FULL_FLUSH)
    stream = first + block * (data_bytes // chunk) + deflate.flush()
    crc = zlib.crc32(header)
    zeros = bytes(chunk)
    for _ in range(data_bytes // chunk):
        crc = zlib.crc32(zeros, crc)
    member = name.encode() + b".npy"
    sizes = struct.pack("<III", crc, len(stream), len(header) + data_bytes)
    local = struct.pack("<IHHHHH", 0x04034B50, 20, 0, 8, 0, 0x21) + sizes + struct.pack(
        "<HH", len(member), 0) + member
    central = struct.pack("<IHHHHHH", 0x02014B50, 20, 20, 0, 8, 0, 0x21) + sizes + struct.pack(
        "<HHHHHII", len(member), 0, 0, 0, 0, 0, 0) + member
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central),
                      len(local) + len(stream), 0)
    path.write_bytes(local + stream + central + end)
    return path.stat().st_size


def _npy_header(shape: tuple[int, ...]) -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f4", "fortran_order": False, "shape": shape})
    return buf.getvalue()


def test_the_bomb_is_a_valid_npz(tmp_path):
    """The bomb of the next test is real: numpy reads it back as the zeros it declares."""
    _deflate_bomb(tmp_path / "small.npz", "x", (4, 1 << 20))
    with np.load(tmp_path / "small.npz") as data:
        x = data["x"]
    assert x.shape == (4, 1 << 20) and not x.any()


def test_zip_bomb_head_is_refused_before_allocating(tmp_path):
    """A ~600 KB head.npz inflating to 600 MB, with digests recomputed by whoever made it
    (digests prove integrity, not intent): refused from its header, in milliseconds."""
    from sea.bundle import Bundle, HEAD_FILE
    from sea.errors import SeaError
    from sea.integrity import record_files

    bundle = write_fake_bundle(tmp_path / "b")
    size = _deflate_bomb(bundle / HEAD_FILE, "weights_0", (16, 150 * (1 << 16)))
    assert size < 1 << 20
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"] = record_files(bundle, list(manifest["files"]))
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(SeaError, match="weights_0: brings .* to 629,145,600 bytes.*zip bomb"):
            Bundle(bundle)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 1.0 and peak < 8 << 20


@pytest.mark.parametrize("write, reason", [
    (lambda p: np.savez(p, weights_0=np.zeros((9, 2), np.float32)), r"shape \(9, 2\), expected"),
    (lambda p: _deflate_bomb(p, "weights_0", (1 << 20, 16)), r"shape \(1048576, 16\), expected"),
])
def test_classifier_head_shapes_are_checked_from_headers(tmp_path, write, reason):
    from sea.bundle import ClassifierHead
    from sea.safe_npz import ArrayFileError

    write(tmp_path / "head.npz")
    with pytest.raises(ArrayFileError, match=reason):
        ClassifierHead(tmp_path / "head.npz", input_dim=16)


def test_npy_whose_header_disagrees_with_its_size_is_refused(tmp_path):
    from sea.safe_npz import ArrayFileError, read_npy

    path = tmp_path / "x.npy"
    path.write_bytes(_npy_header((1 << 28, 1 << 10)) + bytes(64))  # claims 1 TB, holds 64 B
    with pytest.raises(ArrayFileError, match=r"declares \(268435456, 1024\) float32 .* but 64 "
                                             "bytes are stored"):
        read_npy(path, "test array", mmap=True)


def test_embedding_shard_geometry_must_match_the_manifest(artifacts, tmp_path):
    from sea.embedding_store import EmbeddingStore, shard_path
    from sea.safe_npz import ArrayFileError

    emb = tmp_path / "emb"
    shutil.copytree(artifacts["emb"], emb)
    shard = np.load(shard_path(emb, 0))
    np.save(shard_path(emb, 0), shard[:, :-1])
    with pytest.raises(ArrayFileError, match=r"has shape \(8, \d+\), expected \(8, \d+\)"):
        EmbeddingStore(emb).shard(0)


def test_reducer_params_must_match_the_manifest_dimensions(artifacts, tmp_path):
    from sea.integrity import record_files
    from sea.manifest import read_manifest, sha256_file
    from sea.reducer import load_reducer
    from sea.safe_npz import ArrayFileError

    red = tmp_path / "red"
    shutil.copytree(artifacts["red"], red)
    manifest = read_manifest(red)
    np.savez(red / "reducer.npz", mean=np.zeros(3, np.float32),
             components=np.zeros((2, 3), np.float32))
    manifest.update(reducer_id=sha256_file(red / "reducer.npz"),
                    files=record_files(red, list(manifest["files"])))
    (red / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArrayFileError, match=r"reducer.npz: .*mean: has shape \(3,\), expected"):
        load_reducer(red)


def test_every_array_file_is_read_through_the_checked_loader():
    """np.load allocates what a header declares: only sea/safe_npz.py may call it."""
    hits = []
    for folder in ("sea", "data_prep", "training", "deploy"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path.relative_to(REPO).as_posix() == "sea/safe_npz.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if re.search(r"\bnp\.load\(", line):
                    hits.append(f"{path.relative_to(REPO)}:{number}")
    assert hits == []


# -- counts that allocate are bounded ----------------------------------------------------------

@pytest.mark.parametrize("argv, reason", [
    (["synth:2000000"], "at most 1,000,000 scenes"),
    (["synth:4", "--synth-duration", "1e9"], r"scene duration 1e\+09 s is not in \(0, 600\]"),
])
def test_oversized_synth_is_refused_in_one_line(tmp_path, caplog, argv, reason):
    with caplog.at_level(logging.INFO):
        code = sea("prepare", *argv, "--out", tmp_path / "store", "--no-progress")
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert code == 2 and len(errors) == 1 and re.search(reason, errors[0])
    assert not (tmp_path / "store" / "index.jsonl").exists()  # refused before planning


# -- one link rule for every source ------------------------------------------------------------

def test_folder_source_skips_links_leading_out_like_dataset_sources(tmp_path, caplog):
    from sea.store import ClipStore

    outside = write_wavs(tmp_path / "private", 2)
    root = write_wavs(tmp_path / "rec", 1)
    (root / "file-out.wav").symlink_to(outside / "clip0.wav")
    (root / "dir-out").symlink_to(outside)
    (root / "inside.wav").symlink_to(root / "clip0.wav")  # inside the root: kept
    with caplog.at_level(logging.WARNING):
        assert sea("prepare", f"folder:{root}", "--out", tmp_path / "store", "--sample-rate",
                   "16000", "--no-progress") == 0
    store = ClipStore(tmp_path / "store")
    assert sorted(r.clip_id for r in store.records) == ["rec/clip0.wav", "rec/inside.wav"]
    skipped = {Path(s["path"]).name: s["reason"] for s in store.manifest["skipped"]}
    assert set(skipped) == {"file-out.wav", "dir-out"}
    assert all(r.startswith(f"symbolic link leading outside {root}") for r in skipped.values())
    assert "file-out.wav" in caplog.text and "dir-out" in caplog.text


def test_synth_material_folders_follow_the_same_link_rule(tmp_path):
    from data_prep.sources import SourceOptions, plan_sources

    outside = write_wavs(tmp_path / "private", 1)
    material = tmp_path / "fg"
    write_wavs(material / "dog", 1)
    (material / "siren").symlink_to(outside)
    plan = plan_sources(["synth:2"], SourceOptions(synth_foreground=str(material)))
    foreground = plan.tasks[0].scene.settings.foreground
    assert [label for label, _ in foreground] == ["dog"]
    assert [(Path(p).name, "leading outside" in r) for p, r in plan.problems] == [("siren", True)]
