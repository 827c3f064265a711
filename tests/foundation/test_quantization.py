"""The Quantization Enum: manifests old and new read back, labels for files and reports, and
`sea export --quantize` takes the same spellings as before."""

from __future__ import annotations

import pytest

from sea.errors import InvalidArgument
from sea.quantization import Quantization


def test_manifest_spellings_and_labels():
    assert Quantization.spellings() == ["none", "float16", "int8"]  # what --quantize took
    assert [q.label for q in Quantization] == ["float32", "float16", "int8"]
    for manifest, expected in [({"quantization": "none"}, Quantization.FLOAT32),
                               ({}, Quantization.FLOAT32), ({"quantization": None},
                                                            Quantization.FLOAT32),
                               ({"quantization": "int8"}, Quantization.INT8)]:
        assert Quantization.of_manifest(manifest) is expected
    assert Quantization.parse("float32") is Quantization.FLOAT32  # a label reads back too
    assert [q.needs_calibration for q in Quantization] == [False, False, True]
    assert [q.quantized for q in Quantization] == [False, True, True]


def test_an_unknown_quantization_names_its_parameter():
    with pytest.raises(InvalidArgument, match="quantize 'int4' is not one of none, float16, int8"):
        Quantization.parse("int4")
    with pytest.raises(InvalidArgument, match="manifest quantization 'fp8'"):
        Quantization.of_manifest({"quantization": "fp8"})


def test_export_help_lists_the_same_choices(capsys):
    from sea.cli import main

    assert main(["export", "--help"]) == 0
    assert "--quantize {none,float16,int8}" in " ".join(capsys.readouterr().out.split())
