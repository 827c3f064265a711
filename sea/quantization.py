"""How a bundle's network is quantized, and what each choice implies.

One Enum instead of strings compared in every stage: the manifest spelling (`"none"` for
float32, as every bundle written so far says), the label of its files, bench rows and reports
(`"float32"`), and whether the export calibrates it on real windows.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from sea.errors import InvalidArgument


class Quantization(Enum):
    """Member value: the manifest spelling (what `sea export --quantize` takes)."""

    FLOAT32 = "none", "float32"
    FLOAT16 = "float16", "float16"
    INT8 = "int8", "int8"

    label: str  # file names, bench rows and reports: the numeric precision of the network

    def __new__(cls, spelling: str, label: str) -> Quantization:
        member = object.__new__(cls)
        member._value_ = spelling
        member.label = label
        return member

    def __str__(self) -> str:  # argparse choices and messages show the spelling
        return self.value

    @property
    def quantized(self) -> bool:
        """Anything but float32: parity is checked against the quantized bounds."""
        return self is not Quantization.FLOAT32

    @property
    def needs_calibration(self) -> bool:
        """int8 activation ranges are measured on calibration windows."""
        return self is Quantization.INT8

    @classmethod
    def parse(cls, value: Quantization | str | None, name: str = "quantize") -> Quantization:
        """A member from itself, its spelling or its label (None: float32); an unknown value
        raises InvalidArgument naming `name`."""
        if value is None:
            return cls.FLOAT32
        if isinstance(value, cls):
            return value
        for member in cls:
            if value in (member.value, member.label):
                return member
        raise InvalidArgument(f"{name} {value!r} is not one of {', '.join(cls.spellings())}")

    @classmethod
    def of_manifest(cls, manifest: dict[str, Any]) -> Quantization:
        """The quantization a bundle's manifest records (float32 when it records none)."""
        return cls.parse(manifest.get("quantization"), name="manifest quantization")

    @classmethod
    def spellings(cls) -> list[str]:
        """What `sea export --quantize` accepts, in the order its help lists them."""
        return [member.value for member in cls]
