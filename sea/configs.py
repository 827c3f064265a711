"""Model and frontend configurations of the L3 family (teacher, EdgeL3 SEA, students).

Pure data (no torch): the torch network, the numpy frontend, the exporter and `sea models` all
read these. Shapes and parameter counts are derived here so they can be checked without torch.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from sea.errors import SeaError
from sea.schema import NONE, NUMBER, Fields, ListOf, check
from sea.settings import SettingError

# Frontend styles, named after the kapre version whose numerics they reproduce.
#  kapre014: STFT padded on both sides ('same'), mel of the POWER spectrum, then sqrt (EdgeL3, SEA).
#  kapre03:  STFT padded at the end only, mel of the MAGNITUDE spectrum (OpenL3 >= 0.4).
FRONTEND_STYLES = ("kapre014", "kapre03")


# Bounds far beyond any L3 model (OpenL3: n_fft 2048, 512 filters), so a config read from a
# file cannot make the frontend or the network allocate without limit.
MAX_N_FFT = 1 << 16
MAX_FILTERS = 1 << 13
ACTIVATIONS = ("relu", "relu6")
# Students (SEA paper, micro, custom) train with bounded hidden activations (ModelConfig).
STUDENT_ACTIVATION = "relu6"


class ConfigError(SeaError, ValueError):
    """A model or frontend configuration with a value out of range or of the wrong type."""


def _within(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ConfigError(f"{name} = {value} is outside {low}..{high}")


@dataclass(frozen=True)
class FrontendConfig:
    sample_rate: int
    n_fft: int
    hop_length: int
    n_mels: int | None  # None: linear-frequency spectrogram (n_fft // 2 + 1 bins)
    style: str = "kapre014"
    fmin: float = 0.0
    fmax: float | None = None
    htk: bool = False
    window_seconds: float = 1.0
    amin: float = 1e-10
    dynamic_range: float = 80.0
    # False: STFT frames only where a whole n_fft fits, no end padding (kapre 0.3's
    # get_stft_magnitude_layer default, which OpenL3 0.4's linear frontend keeps: 197 frames).
    pad_end: bool = True

    def __post_init__(self) -> None:
        if self.style not in FRONTEND_STYLES:
            raise ConfigError(f"frontend style {self.style!r} not in {FRONTEND_STYLES}")
        _within("sample_rate", self.sample_rate, 1, 384_000)
        _within("n_fft", self.n_fft, 16, MAX_N_FFT)
        _within("hop_length", self.hop_length, 1, self.n_fft)
        _within("n_mels", self.n_mels or 1, 1, self.n_fft)
        _within("window_seconds", self.window_seconds, 0.01, 60)

    @property
    def window_samples(self) -> int:
        return int(round(self.window_seconds * self.sample_rate))

    @property
    def n_frames(self) -> int:
        # TF 'SAME' conv (kapre 0.1.4) and tf.signal.stft(pad_end=True) both give ceil(N / hop).
        if not self.pad_end:
            return 1 + (self.window_samples - self.n_fft) // self.hop_length
        return math.ceil(self.window_samples / self.hop_length)

    @property
    def n_bins(self) -> int:
        return self.n_mels if self.n_mels else self.n_fft // 2 + 1

    @property
    def padding(self) -> tuple[int, int]:
        """Zeros added (left, right) to a window before slicing STFT frames."""
        if not self.pad_end:
            return 0, 0
        total = (self.n_frames - 1) * self.hop_length + self.n_fft - self.window_samples
        if self.style == "kapre014":
            return total // 2, total - total // 2
        return 0, total

    @property
    def sqrt_after_mel(self) -> bool:
        return self.style == "kapre014"


@dataclass(frozen=True)
class ModelConfig:
    name: str
    frontend: FrontendConfig
    filters: tuple[int, int, int, int]
    final_bn_relu: bool = True
    # The hidden layers' activation: "relu" (the published L3-Net and EdgeL3 models) or
    # "relu6" (the students: bounded, so int8 gives it a fixed range; deploy.md says why). The
    # last layer is BN + ReLU or linear (final_bn_relu) either way.
    activation: str = "relu"
    # None: global max pool to filters[-1] dims. Else an (h, w) max pool whose (h, w, c) output
    # is flattened channels-last, as OpenL3's 6144-d embedding does.
    embedding_pool: tuple[int, int] | None = None
    family: str = "custom"
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, int]:
        """(bins, frames) of the log-mel image the conv body sees."""
        return self.frontend.n_bins, self.frontend.n_frames

    @property
    def feature_map(self) -> tuple[int, int]:
        """(height, width) after the three 2x2 valid max-pools."""
        h, w = self.input_shape
        for _ in range(3):
            h, w = h // 2, w // 2
        return h, w

    @property
    def embedding_dim(self) -> int:
        if self.embedding_pool is None:
            return self.filters[-1]
        h, w = self.feature_map
        ph, pw = self.embedding_pool
        return math.ceil(h / ph) * math.ceil(w / pw) * self.filters[-1]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def __post_init__(self) -> None:
        for size in self.filters:
            _within("filters", size, 1, MAX_FILTERS)
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"activation {self.activation!r} not in {ACTIVATIONS}")

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "config") -> "ModelConfig":
        """The config `to_dict` wrote; `source` (the file it was read from) names any field of
        the wrong type or out of range."""
        check(d, CONFIG_FIELDS, source, "config")
        d = dict(d)
        try:
            d["frontend"] = FrontendConfig(**d["frontend"])
            d["filters"] = tuple(d["filters"])
            if d.get("embedding_pool") is not None:
                d["embedding_pool"] = tuple(d["embedding_pool"])
            return cls(**d)
        except ConfigError as exc:
            raise ConfigError(f"{source}: config: {exc}") from None


FRONTEND_FIELDS = Fields({
    "sample_rate": int, "n_fft": int, "hop_length": int, "n_mels": (int, NONE), "style": str,
    "fmin": NUMBER, "fmax": (NUMBER, NONE), "htk": bool, "window_seconds": NUMBER,
    "amin": NUMBER, "dynamic_range": NUMBER, "pad_end": bool,
}, required=("sample_rate", "n_fft", "hop_length", "n_mels"), closed=True)
CONFIG_FIELDS = Fields({
    "name": str, "frontend": FRONTEND_FIELDS, "filters": ListOf(int, length=4),
    "final_bn_relu": bool, "activation": str, "embedding_pool": (NONE, ListOf(int, length=2)),
    "family": str, "description": str, "extra": dict,
}, required=("name", "frontend", "filters"), closed=True)


def count_parameters(cfg: ModelConfig, trainable_only: bool = False) -> int:
    """Stored numbers of the conv body, Keras-style (BatchNorm counts gamma, beta, mean, var).

    With `trainable_only`, BatchNorm's moving statistics are left out (the paper's Table 1 count).
    """
    per_bn = 2 if trainable_only else 4
    total = per_bn  # the input BatchNorm on the single log-mel channel
    c_in = 1
    for block, c_out in enumerate(cfg.filters):
        for conv in range(2):
            total += 9 * c_in * c_out + c_out
            last = block == len(cfg.filters) - 1 and conv == 1
            if not last or cfg.final_bn_relu:
                total += per_bn * c_out
            c_in = c_out
    return total


def activation_bytes(cfg: ModelConfig, bytes_per_value: int = 4) -> int:
    """Largest single activation tensor for one window: the SEA paper's "activation memory"
    (Table 1: 0.82 MB for Student 0, 0.41 MB for Students 1-3)."""
    h, w = cfg.input_shape
    widest_per_resolution = [max(cfg.filters[0], 1) * h * w]
    for c in cfg.filters[1:]:
        h, w = h // 2, w // 2
        widest_per_resolution.append(c * h * w)
    return max(widest_per_resolution) * bytes_per_value


OPENL3_FRONTENDS = {
    "mel256": FrontendConfig(48000, 2048, 242, 256, style="kapre03", htk=False),
    "mel128": FrontendConfig(48000, 2048, 242, 128, style="kapre03", htk=False),
    "linear": FrontendConfig(48000, 512, 242, None, style="kapre03", pad_end=False),
}
# OpenL3's 6144-d pooling per input representation (its models.py).
OPENL3_6144_POOL = {"mel256": (8, 8), "mel128": (4, 8), "linear": (8, 8)}
SEA_FRONTEND = FrontendConfig(8000, 1024, 160, 64, style="kapre014", fmax=4000.0, htk=True)
STUDENT_FILTERS = {
    "student0": (64, 128, 256, 512),
    "student1": (32, 64, 128, 256),
    "student2": (32, 64, 128, 128),
    "student3": (32, 64, 128, 64),
}
# MCU-sized student (issue 12): the filters of the real-data distillation proof
# (benchmarks/distill_urban_eval.py); as a fully integer int8 model with its TFLM arena it fits a
# Cortex-M4 with 1 MB flash and 256 KB RAM (`sea export student-micro ... --target micro`).
MICRO_STUDENT_FILTERS = (16, 32, 32, 64)
# edgel3's reduction factors per embedding size, applied to (64, 128, 256, 512).
EDGEL3_REDUCTION = {512: (1, 1, 1, 1), 256: (2, 2, 2, 2), 128: (2, 2, 2, 4), 64: (2, 2, 2, 8)}


def _build_registry() -> dict[str, ModelConfig]:
    reg: dict[str, ModelConfig] = {}
    for rep, fe in OPENL3_FRONTENDS.items():
        for content in ("env", "music"):
            base = f"openl3-{rep}-{content}"
            common = dict(frontend=fe, filters=(64, 128, 256, 512), final_bn_relu=False,
                          family="openl3", extra={"input_repr": rep, "content_type": content})
            reg[base] = ModelConfig(name=base, description=f"OpenL3 teacher, {rep}, {content}, 512-d",
                                    **common)
            reg[f"{base}-6144"] = ModelConfig(
                name=f"{base}-6144", embedding_pool=OPENL3_6144_POOL[rep],
                description=f"OpenL3 teacher, {rep}, {content}, 6144-d", **common)
    for dim, factors in EDGEL3_REDUCTION.items():
        filters = tuple(f // r for f, r in zip((64, 128, 256, 512), factors))
        name = f"edgel3-sea-{dim}"
        reg[name] = ModelConfig(name=name, frontend=SEA_FRONTEND, filters=filters,
                                family="edgel3", description=f"EdgeL3 SEA-UST {dim}-d (published)")
    for name, filters in STUDENT_FILTERS.items():
        reg[name] = ModelConfig(name=name, frontend=SEA_FRONTEND, filters=filters,
                                activation=STUDENT_ACTIVATION, family="student",
                                description=f"SEA paper {name}, {filters[-1]}-d")
    reg["student-micro"] = ModelConfig(
        name="student-micro", frontend=SEA_FRONTEND, filters=MICRO_STUDENT_FILTERS,
        activation=STUDENT_ACTIVATION, family="student",
        description="MCU-sized student (fits a Cortex-M4 as int8), 64-d")
    return reg


MODEL_CONFIGS: dict[str, ModelConfig] = _build_registry()


class UnknownModel(SeaError, KeyError):
    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


def get_config(name: str) -> ModelConfig:
    try:
        return MODEL_CONFIGS[name]
    except KeyError:
        raise UnknownModel(f"unknown model {name!r}; known: {', '.join(MODEL_CONFIGS)}") from None


def custom_config(filters: tuple[int, int, int, int], dim: int | None = None,
                  frontend: FrontendConfig = SEA_FRONTEND, name: str = "custom") -> ModelConfig:
    """A student with any filters per block; its embedding is the last block's width."""
    filters = tuple(int(f) for f in filters)
    if len(filters) != 4 or min(filters) <= 0:
        raise ValueError(f"need four positive filter counts, got {filters}")
    if dim is not None and dim != filters[-1]:
        raise SettingError("dim", f"{{dim}} {dim} must equal the last block's filters "
                           f"({filters[-1]}): the embedding is the global max-pool of that "
                           "block")
    return ModelConfig(name=name, frontend=frontend, filters=filters, family="custom",
                       activation=STUDENT_ACTIVATION,
                       description=f"custom student {'-'.join(map(str, filters))}")
