"""Malicious inputs for the untrusted-artifact tests: pickles that create a marker file when
loaded, and tiny artifacts to tamper with (no model conversion needed)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np


class CreatesFile:
    """Unpickling this calls `open(marker, "w")`: proof that loading ran attacker code."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def pickle_payload(marker: Path) -> bytes:
    return pickle.dumps({"weights": CreatesFile(marker)}, protocol=2)


def write_object_npy(path: Path, marker: Path) -> Path:
    """A .npy whose object array unpickles into `open(marker, "w")`."""
    arr = np.empty(1, dtype=object)
    arr[0] = CreatesFile(marker)
    np.save(path, arr, allow_pickle=True)
    return path


def write_fake_bundle(path: Path, head: bool = True) -> Path:
    """A bundle directory as `sea export` lays it out, with stand-in .tflite bytes: enough for
    `Bundle` (which verifies files before any is parsed), not for running the model."""
    from sea.bundle import BUNDLE_KIND, FRONTEND_FILE, HEAD_FILE
    from sea.configs import custom_config
    from sea.integrity import record_files
    from sea.manifest import write_manifest

    cfg = custom_config((4, 8, 8, 16), name="tiny")
    path.mkdir(parents=True)
    (path / "model_outside_float32.tflite").write_bytes(b"TFL3" + bytes(range(256)) * 4)
    np.savez(path / FRONTEND_FILE, params_json=np.array("{}"))
    names = ["model_outside_float32.tflite", FRONTEND_FILE]
    head_entry = None
    if head:
        rng = np.random.default_rng(0)
        np.savez(path / HEAD_FILE, weights_0=rng.standard_normal((16, 2)).astype(np.float32),
                 bias_0=np.zeros(2, np.float32), labels=np.array(["siren", "dog"]),
                 activation=np.array("sigmoid"))
        names.append(HEAD_FILE)
        head_entry = {"file": HEAD_FILE}
    write_manifest(path, BUNDLE_KIND, cfg.to_dict(), quantization="none",
                   variants={"outside": {"file": "model_outside_float32.tflite"}},
                   head=head_entry, files=record_files(path, names))
    return path
