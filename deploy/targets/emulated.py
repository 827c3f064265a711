"""Drive deploy/targets/aarch64.sh and compare its output with the native `sea-node` run.

Parity of two runs of one bundle on one input (same windows, in the same order): per-window
cosine of the embeddings and the count of bit-identical windows. Float bundles differ only by
float32 summation order (XNNPACK's aarch64 NEON kernels vs x86 AVX ones): cosine >= 0.9999.
int8 kernels are integer arithmetic, but the numpy frontend and the float input BatchNorm
before QUANTIZE are float, so an input value on a rounding boundary may move one step:
cosine >= 0.999, usually identical.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from deploy.parity import agreement

SCRIPT = Path(__file__).with_name("aarch64.sh")
FLOAT_MIN_COSINE = 0.9999
INT8_MIN_COSINE = 0.999


def rootfs() -> Path:
    default = Path.home() / ".cache" / "sea" / "aarch64-rootfs"
    return Path(os.environ.get("SEA_AARCH64_ROOTFS", default))


def emulation_missing() -> str | None:
    """Why the emulated run cannot happen here (None when it can)."""
    if not (shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")):
        return "qemu-user is not installed (apt-get install qemu-user-static)"
    if not (rootfs() / ".sea-ready").is_file():
        return (f"no built arm64 rootfs at {rootfs()} (build it once, as root: "
                f"deploy/targets/aarch64.sh --build-only; several minutes)")
    return None


def run_emulated(bundle: Path, inputs: list[Path], out: Path, legacy: bool = False,
                 extra: tuple[str, ...] = ()) -> tuple[str, str]:
    """(platform line, stderr) of aarch64.sh; raises CalledProcessError on failure."""
    command = [str(SCRIPT), "--bundle", str(bundle), "--input", *map(str, inputs),
               "--out", str(out), *(["--legacy"] if legacy else []), "--", *extra]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    machine = next((line for line in result.stderr.splitlines()
                    if line.startswith("platform.machine()")), "")
    return machine, result.stderr


def read_embeddings(path: Path) -> tuple[list[tuple[str, float]], np.ndarray]:
    keys, rows = [], []
    for line in Path(path).read_text().splitlines():
        record = json.loads(line)
        if "embedding" in record:
            keys.append((Path(record["source"]).name, record["time"]))
            rows.append(record["embedding"])
    return keys, np.array(rows, dtype=np.float64)


def compare_runs(native: Path, emulated: Path) -> dict:
    keys_a, a = read_embeddings(native)
    keys_b, b = read_embeddings(emulated)
    if keys_a != keys_b:
        raise ValueError(f"the runs cover different windows ({len(keys_a)} vs {len(keys_b)})")
    return agreement(a, b)
