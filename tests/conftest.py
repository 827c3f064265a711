"""Shared test fixtures: paths to ../shared material (skipped cleanly when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not present (shared material lives beside the repo)")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return _require(SHARED)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return _require(SHARED / "fixtures")


@pytest.fixture(scope="session")
def urban_eval_dir() -> Path:
    return _require(SHARED / "data" / "urban-eval")


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray instance with 2 CPUs for every Ray test (starting Ray takes seconds)."""
    ray = pytest.importorskip("ray", reason="Ray tests need the cluster extra")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
