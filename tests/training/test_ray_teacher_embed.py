"""`sea teacher-embed --ray`: Ray actors write the same shards as one process, even when a
worker is killed in the middle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sea.cli import main
from sea.embedding_store import SHARD_DIR

ARGS = ["--hop", "0.25", "--shard-rows", "4", "--batch-size", "3", "--threads", "1"]
RAY = ["--ray", "local", "--ray-workers", "2", "--ray-cpus-per-worker", "1"]


@pytest.fixture(scope="module")
def store(make_store, tmp_path_factory) -> Path:
    return make_store(tmp_path_factory.mktemp("ray") / "store", clips=8, seconds=2.0, seed=3)


@pytest.fixture(scope="module")
def single(store, tiny_teacher, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("single") / "emb"
    assert main(["teacher-embed", str(store), "--teacher", str(tiny_teacher), "--out", str(out),
                 *ARGS]) == 0
    return out


def shard_bytes(emb: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((emb / SHARD_DIR).glob("*.npy"))}


def ray_embed(store: Path, teacher: Path, out: Path) -> int:
    return main(["teacher-embed", str(store), "--teacher", str(teacher), "--out", str(out),
                 *ARGS, *RAY])


def test_ray_store_equals_single_process_byte_for_byte(ray_local, store, tiny_teacher, single,
                                                       tmp_path):
    out = tmp_path / "emb"
    assert ray_embed(store, tiny_teacher, out) == 0
    expected = shard_bytes(single)
    assert len(expected) == 8 * 5 // 4  # 8 clips x 5 windows, 4 rows per shard
    assert shard_bytes(out) == expected


def _actor_pids(name: str) -> list[int]:
    """Processes whose title Ray set to `ray::NAME...` (our actors: this test started them)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                continue
            if title.startswith(f"ray::{name}".encode()):
                pids.append(int(entry.name))
    return pids


def test_killed_worker_still_gives_the_identical_store(ray_local, store, tiny_teacher, single,
                                                       tmp_path):
    out = tmp_path / "emb"
    shards = out / SHARD_DIR
    total = len(shard_bytes(single))
    killed: list[tuple[int, int]] = []  # (pid, shards on disk at the kill)

    def kill_one_worker_mid_run() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            done = len(list(shards.glob("*.npy"))) if shards.is_dir() else 0
            pids = _actor_pids("ShardEmbedder")
            if done >= 1 and pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append((pids[0], done))
            time.sleep(0.005)

    killer = threading.Thread(target=kill_one_worker_mid_run)
    killer.start()
    assert ray_embed(store, tiny_teacher, out) == 0
    killer.join()
    assert killed and killed[0][1] < total, "the worker was not killed while work remained"
    assert shard_bytes(out) == shard_bytes(single)


def test_ray_needs_at_least_one_worker(store, tiny_teacher, tmp_path):
    assert main(["teacher-embed", str(store), "--teacher", str(tiny_teacher), "--out",
                 str(tmp_path / "emb"), "--ray", "local", "--ray-workers", "0"]) == 2


def test_ray_is_imported_only_with_ray(store, tiny_teacher, tmp_path):
    code = ("import sys; from sea.cli import main; "
            f"rc = main(['teacher-embed', {str(store)!r}, '--teacher', {str(tiny_teacher)!r}, "
            f"'--out', {str(tmp_path / 'emb')!r}, '--threads', '1']); "
            "assert 'ray' not in sys.modules, 'ray was imported'; sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
