"""Nothing a user may receive is unpickled: malicious payloads that would create a file are
refused, and the file is not created."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from untrusted_payloads import CreatesFile, pickle_payload, write_object_npy

REPO = Path(__file__).resolve().parents[2]
CODE_DIRS = ("sea", "data_prep", "training", "deploy", "benchmarks")


def _tiny_model():
    import torch

    from sea.configs import custom_config
    from training.model import L3Net

    torch.manual_seed(0)
    return L3Net(custom_config((4, 8, 8, 16), name="tiny")).eval()


def _rerecord(directory: Path, name: str) -> None:
    """An attacker who edits a file can also fix its digest in the manifest."""
    from sea.integrity import file_record

    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["files"][name] = file_record(directory / name)
    (directory / "manifest.json").write_text(json.dumps(manifest))


def test_checkpoint_with_pickled_code_is_refused(tmp_path):
    import torch  # noqa: F401

    from training.checkpoint import UnsafeTorchFile, load_checkpoint, save_checkpoint

    ckpt, marker = tmp_path / "ckpt", tmp_path / "pwned"
    save_checkpoint(ckpt, _tiny_model())
    (ckpt / "model.pt").write_bytes(pickle_payload(marker))
    _rerecord(ckpt, "model.pt")
    with pytest.raises(UnsafeTorchFile, match="could run code"):
        load_checkpoint(ckpt)
    assert not marker.exists()


def test_trainer_state_loads_as_tensors_only(tmp_path):
    """The resume state (Adam + GradScaler + counters) round-trips through the restricted
    loader, and a crafted trainer.pt is refused without running."""
    import io

    import torch

    from training.checkpoint import UnsafeTorchFile, load_tensors

    model = _tiny_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.zeros(2, 8000)).sum().backward()
    optimizer.step()
    state = {"optimizer": optimizer.state_dict(),
             "scaler": torch.amp.GradScaler("cuda", enabled=False).state_dict(),
             "state": {"epoch": 3, "best_val": float("inf")}, "reducer_id": "ab" * 32}
    buf = io.BytesIO()
    torch.save(state, buf)
    (tmp_path / "trainer.pt").write_bytes(buf.getvalue())
    loaded = load_tensors(tmp_path / "trainer.pt")
    assert loaded["state"] == state["state"] and loaded["reducer_id"] == state["reducer_id"]
    torch.optim.Adam(model.parameters(), lr=1e-3).load_state_dict(loaded["optimizer"])

    marker = tmp_path / "pwned"
    (tmp_path / "trainer.pt").write_bytes(pickle_payload(marker))
    with pytest.raises(UnsafeTorchFile):
        load_tensors(tmp_path / "trainer.pt")
    assert not marker.exists()


def _umap_reducer_dir(path: Path, marker: Path) -> Path:
    from sea.manifest import sha256_file, write_manifest

    path.mkdir()
    (path / "umap.pkl").write_bytes(pickle_payload(marker))
    write_manifest(path, "reducer", {"reducer": "umap"}, in_dim=8, out_dim=2,
                   reducer_id=sha256_file(path / "umap.pkl"), params_file="umap.pkl")
    return path


def test_umap_reducer_needs_explicit_opt_in(tmp_path):
    from sea.reducer import PickledReducer, load_reducer

    marker = tmp_path / "pwned"
    reducer = _umap_reducer_dir(tmp_path / "red", marker)
    with pytest.raises(PickledReducer, match="allow_pickle=True"):
        load_reducer(reducer)
    assert not marker.exists()


def _object_targets(root: Path, marker: Path) -> None:
    from sea.integrity import record_files
    from sea.manifest import write_manifest
    from sea.reducer import TARGETS_FILE, load_targets

    root.mkdir()
    write_object_npy(root / TARGETS_FILE, marker)
    write_manifest(root, "reducer", {}, out_dim=1, files=record_files(root, [TARGETS_FILE]))
    load_targets(root)


def _object_head(root: Path, marker: Path) -> None:
    from sea.bundle import ClassifierHead

    root.mkdir()
    labels = np.empty(1, dtype=object)
    labels[0] = CreatesFile(marker)
    np.savez(root / "head.npz", weights_0=np.zeros((2, 1), np.float32),
             bias_0=np.zeros(1, np.float32), labels=labels)
    ClassifierHead(root / "head.npz")


def _object_embedding_shard(root: Path, marker: Path) -> None:
    from sea.embedding_store import EmbeddingStore, shard_path
    from sea.manifest import write_manifest

    shard_path(root, 0).parent.mkdir(parents=True)
    write_object_npy(shard_path(root, 0), marker)
    write_manifest(root, "embedding_store", {"num_rows": 1, "dim": 1, "shard_rows": 1,
                                             "dtype": "float32"},
                   status="complete")
    EmbeddingStore(root).shard(0)


def _object_reducer_params(root: Path, marker: Path) -> None:
    from sea.integrity import record_files
    from sea.manifest import sha256_file, write_manifest
    from sea.reducer import load_reducer

    root.mkdir()
    mean = np.empty(1, dtype=object)
    mean[0] = CreatesFile(marker)
    np.savez(root / "reducer.npz", mean=mean, components=np.zeros((1, 1), np.float32))
    write_manifest(root, "reducer", {"reducer": "pca"}, in_dim=1, out_dim=1,
                   reducer_id=sha256_file(root / "reducer.npz"),
                   files=record_files(root, ["reducer.npz"]))
    load_reducer(root)


@pytest.mark.parametrize("load", [_object_targets, _object_head, _object_embedding_shard,
                                  _object_reducer_params])
def test_object_arrays_are_never_unpickled(tmp_path, load):
    """.npy/.npz files holding pickled objects are refused wherever an artifact is read
    (memory-mapped ones because object arrays cannot be mapped, the rest by allow_pickle)."""
    marker = tmp_path / "pwned"
    with pytest.raises(ValueError, match="allow_pickle=False|Python objects"):
        load(tmp_path / "artifact", marker)
    assert not marker.exists()


def _calls(pattern: str) -> list[str]:
    """Source lines (path:line: text) under the code directories matching `pattern`."""
    hits = []
    for folder in CODE_DIRS:
        for path in sorted((REPO / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if re.search(pattern, line):
                    hits.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    return hits


def test_code_never_unpickles_untrusted_files():
    """Every torch.load is weights_only=True (via load_tensors), every np.load passes
    allow_pickle=False, and pickle.load(s) appears only behind the UMAP opt-in."""
    torch_loads = [h for h in _calls(r"torch\.load\(") if "weights_only=True" not in h]
    np_loads = [h for h in _calls(r"\bnp\.load\(") if "allow_pickle=False" not in h]
    pickle_loads = [h for h in _calls(r"pickle\.loads?\(") if not h.startswith("sea/reducer.py")]
    assert torch_loads == [] and np_loads == [] and pickle_loads == []
