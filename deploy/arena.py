"""Activation memory (tensor arena) of a .tflite model for one inference.

No desktop interpreter's Python API reports its arena. TFLite Micro does (its recording
allocator prints the arena it planned), so it is used when the `tflite-micro` wheel is
installed. Otherwise the figure is a tensor-liveness peak computed from the graph: every
non-constant tensor lives from the op that writes it to the last op that reads it, and the
peak of the live bytes over the execution order is reported (a lower bound of any arena
planner's result, TFLM's included, since it ignores alignment and fragmentation).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np

from sea.bundle import load_interpreter

TFLM_ARENA_BYTES = 256 << 20  # generous upper bound; TFLM reports what it actually planned
_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")


def _capture_native_output(fn) -> str:
    """Run fn() and return what native code printed to fds 1 and 2 meanwhile."""
    with tempfile.TemporaryFile(mode="w+b") as sink:
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            fn()
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
        sink.seek(0)
        return sink.read().decode(errors="replace")


def tflm_arena_bytes(path: str | Path) -> int | None:
    """Arena planned by TFLite Micro, or None when tflite-micro is missing or rejects the file."""
    try:
        from tflite_micro import runtime
    except ImportError:
        return None
    try:
        interpreter = runtime.Interpreter.from_file(str(path), arena_size=TFLM_ARENA_BYTES)
        text = _capture_native_output(interpreter.print_allocations)
    except Exception:  # unsupported op or version in TFLM: fall back to liveness
        return None
    match = _TOTAL.search(text)
    return int(match.group(1)) if match else None


def liveness_peak_bytes(path: str | Path) -> int:
    """Peak bytes of simultaneously live activation tensors over the execution order."""
    interpreter = load_interpreter()(model_path=str(path))
    ops = interpreter._get_ops_details()  # execution order; the public API has no op list
    sizes = {t["index"]: int(np.prod(t["shape"])) * np.dtype(t["dtype"]).itemsize
             for t in interpreter.get_tensor_details()}
    produced = {i: step for step, op in enumerate(ops) for i in op["outputs"]}
    for detail in interpreter.get_input_details():
        produced[detail["index"]] = 0
    last_use = dict(produced)
    for step, op in enumerate(ops):
        for i in op["inputs"]:
            if i in produced:
                last_use[i] = max(last_use[i], step)
    for detail in interpreter.get_output_details():
        last_use[detail["index"]] = len(ops)
    peak = 0
    for step in range(len(ops) + 1):
        live = sum(sizes.get(i, 0) for i in produced if produced[i] <= step <= last_use[i])
        peak = max(peak, live)
    return peak


def arena_bytes(path: str | Path) -> tuple[int, str]:
    """(bytes, method): TFLite Micro's planned arena when available, else the liveness peak."""
    tflm = tflm_arena_bytes(path)
    if tflm is not None:
        return tflm, "tflite-micro"
    return liveness_peak_bytes(path), "liveness"
