"""The micro build's model_data.h: the output map (per-channel scales and offsets) as C++
constants that compile and hold the bundle's values."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from deploy.micro.csource import model_header
from deploy.micro.integer_model import InputRule


def header(output_offset):
    scale = np.array([0.5, 1.25, 3.0], np.float32)
    return model_header(InputRule(gain=0.1, offset=-2.0, zero_point=-5), (0.0039, -128),
                        (1, 64, 50, 1), scale, output_offset, arena_bytes=4096)


def c_array(text: str, name: str) -> np.ndarray:
    body = re.search(rf"{name}\[kSeaEmbeddingDim\] = \{{([^}}]*)\}}", text).group(1)
    return np.array([float(v.rstrip("f")) for v in body.split(",")], np.float32)


def test_output_map_constants_hold_the_bundles_values():
    offset = np.array([-1.5, 0.25, 2.0], np.float32)
    text = header(offset)
    np.testing.assert_array_equal(c_array(text, "kSeaOutputChannelScale"), [0.5, 1.25, 3.0])
    np.testing.assert_array_equal(c_array(text, "kSeaOutputChannelOffset"), offset)
    # a BN + ReLU last layer has no offset: zeros, so firmware uses one formula
    np.testing.assert_array_equal(c_array(header(None), "kSeaOutputChannelOffset"), 0.0)


@pytest.mark.skipif(shutil.which("g++") is None, reason="no C++ compiler")
def test_header_compiles(tmp_path):
    (tmp_path / "model_data.h").write_text(header(np.array([-1.5, 0.25, 2.0], np.float32)))
    source = tmp_path / "use.cc"
    source.write_text('#include "model_data.h"\n'
                      "float embed(int8_t q, int i) {\n"
                      "  return (q - kSeaOutputZeroPoint) * kSeaOutputScale *\n"
                      "      kSeaOutputChannelScale[i] + kSeaOutputChannelOffset[i];\n}\n")
    subprocess.run(["g++", "-std=c++11", "-fsyntax-only", "-I", str(tmp_path), str(source)],
                   check=True)
