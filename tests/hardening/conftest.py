"""Tiny artifacts of every kind for the hardening tests (built once per session)."""

from __future__ import annotations

import pytest

from lost_support import STORE_RATE, TEACHER_FILTERS, sea, tone


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory):
    """One artifact of every kind: clip store, teacher checkpoint, embedding store, reducer."""
    import torch

    from sea.configs import custom_config
    from sea.store import StoreWriter
    from training.checkpoint import save_checkpoint
    from training.model import L3Net

    root = tmp_path_factory.mktemp("artifacts")
    with StoreWriter(root / "store", sample_rate=STORE_RATE) as writer:
        for i in range(8):
            writer.add(f"t/{i}", tone(1.5, 200.0 + 300 * i, level=0.05 + 0.05 * i),
                       source=f"gen{i}", dataset="t", labels=(f"c{i % 2}",),
                       fold=str(i % 4 + 1))
    torch.manual_seed(0)
    save_checkpoint(root / "teacher", L3Net(custom_config(TEACHER_FILTERS, name="t")).eval())
    assert sea("teacher-embed", root / "store", "--teacher", root / "teacher", "--out",
               root / "emb", "--hop", "0.5", "--threads", "1", "--shard-rows", "8") == 0
    assert sea("reduce", root / "emb", "--reducer", "identity", "--out", root / "red") == 0
    return {name: root / name for name in ("store", "teacher", "emb", "red")}


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    """A float bundle of a tiny random student (`ckpt` beside it is its checkpoint)."""
    import torch

    from sea.configs import custom_config
    from training.checkpoint import save_checkpoint
    from training.model import L3Net

    root = tmp_path_factory.mktemp("bundle")
    torch.manual_seed(1)
    save_checkpoint(root / "ckpt", L3Net(custom_config(TEACHER_FILTERS, name="t")).eval())
    assert sea("export", root / "ckpt", "--frontend", "outside", "--parity-windows", "2",
               "--out", root / "bundle") == 0
    return root / "bundle"
