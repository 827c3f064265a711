"""Settings of `sea distill` and of `training.distill.Distiller` (the same object)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from sea.configs import ACTIVATIONS, ModelConfig
from sea.settings import (AT_LEAST_ONE, LEARNING_RATE, POSITIVE,
                          SAMPLE_RATE, CpuCount, Interval, OneOf, SettingError, setting)
from training.settings.inference import DeviceSettings
from training.settings.objective import ObjectiveOptions

AUGMENTS = ("none", "shift", "shift+gain")  # target-preserving input augmentations
# Student's last layer: "relu" keeps the SEA students' final BN+ReLU, "linear" drops it (for
# centred targets such as PCA outputs), "auto" picks from the sign of the targets.
FINAL_ACTIVATIONS = ("auto", "relu", "linear")
AMP_MODES = ("auto", "fp16", "bf16", "off")  # auto: fp16 on CUDA, off on CPU
# Gains are powers of two, 6.02 dB apart: below half a step no gain but 1 is drawn.
MIN_GAIN_DB = 3.02
CUSTOM_FRONTEND_FIELDS = ("n_mels", "n_fft", "hop_length", "sample_rate")


def default_qat_epochs(epochs: int) -> int:
    """Epochs of the QAT phase when not given: a quarter of the run, at least one."""
    return max(1, epochs // 4)


@dataclass(frozen=True, kw_only=True)
class DistillSettings(ObjectiveOptions, DeviceSettings):
    store: Path = setting(help="clip store the targets come from")
    targets: Path = setting(metavar="RED", help="reducer directory written by `sea reduce`")
    out: Path = setting(metavar="CKPT", help="checkpoint directory")
    student: str = setting("student3",
                           help="student0..student3 (SEA paper) or custom (with {filters})")
    filters: tuple[int, ...] | None = setting(
        None, check=AT_LEAST_ONE, help="custom student: filters per block, e.g. 16,32,32,64")
    dim: int | None = setting(None, check=AT_LEAST_ONE,
                              help="custom student: embedding size (= last filters)")
    n_mels: int | None = setting(None, check=AT_LEAST_ONE,
                                 help="custom student: mel bands (default 64)")
    n_fft: int | None = setting(None, check=AT_LEAST_ONE,
                                help="custom student: DFT size (default 1024)")
    hop_length: int | None = setting(None, check=AT_LEAST_ONE,
                                     help="custom student: STFT hop, samples (default 160)")
    sample_rate: int | None = setting(None, check=SAMPLE_RATE,
                                      help="custom student: input rate, Hz (default 8000)")
    epochs: int = setting(30, check=AT_LEAST_ONE, help="maximum epochs")
    lr: float = setting(1e-4, check=LEARNING_RATE, help="Adam learning rate")
    batch_size: int = setting(64, check=AT_LEAST_ONE, help="windows per step")
    teacher_blocks: Path | None = setting(
        None, metavar="DIR",
        help="teacher block features (default: EMB/blocks of the targets' EMB)")
    augment: str = setting(
        "none", check=OneOf(AUGMENTS),
        help="exact augmentation: shift (neighbouring fine-hop windows with their own teacher "
             "targets; needs {base_hop}), shift+gain (plus a random gain where the kapre dB "
             "rule makes it target-preserving)")
    base_hop: float | None = setting(
        None, check=POSITIVE,
        help="hop between training windows, s: a multiple of the teacher store's hop "
             "(default: the store's hop)")
    gain_db: float = setting(
        12.0, check=Interval(MIN_GAIN_DB, why="gains are powers of two, 6.02 dB apart"),
        help="shift+gain: gains are powers of two (exact in float32) within +-this many dB "
             "(12: x1/4 .. x4)")
    final_activation: str = setting(
        "auto", check=OneOf(FINAL_ACTIVATIONS),
        help="end in BN+ReLU (relu), linearly (linear), or auto: relu unless some target is "
             "negative")
    hidden_activation: str = setting(
        "auto", check=OneOf(("auto",) + ACTIVATIONS),
        help="the hidden layers' activation: relu6 (bounded: int8 keeps fixed ranges), relu "
             "(the SEA paper's students), or auto: the student config's (relu6 for students)")
    patience: int = setting(5, check=AT_LEAST_ONE, help="early-stopping patience, epochs")
    val_fraction: float = setting(0.1, check=Interval(0, 1, low_open=True, high_open=True),
                                  help="share of recordings held out for validation")
    val_folds: tuple[str, ...] = setting(
        (), metavar="FOLDS", help="hold out these folds instead, e.g. 4,5")
    seed: int = setting(0, help="seed of initialisation, validation split and shuffling")
    resume: bool = setting(False, help="continue the run in {out}")
    overwrite: bool = setting(False, help="replace the checkpoint in {out} with a new run")
    cache_dir: Path | None = setting(
        None, help="where the student-rate copy of the store's audio goes (default: CKPT/cache)")
    threads: int | None = setting(
        None, check=CpuCount(),
        help="CPU threads for torch (default: every core; fewer can be faster on a machine "
             "busy with other work)")
    amp: str = setting(
        "auto", check=OneOf(AMP_MODES),
        help="mixed precision of the conv body: auto (fp16 on CUDA, off on CPU), fp16 (with "
             "gradient scaling), bf16, or off")
    qat: bool = setting(
        False,
        help="quantization-aware distillation: the last epochs train through the int8 body as "
             "`sea export --quantize int8` quantizes it (fake quantization, BN folded, "
             "equalized outputs); the export then calibrates the QAT-trained weights "
             "(docs/training.md)")
    qat_epochs: int | None = setting(
        None, check=AT_LEAST_ONE, metavar="N",
        help="epochs of the QAT phase (default: a quarter of {epochs}, at least 1); they start "
             "from the best float epoch")
    qat_lr: float | None = setting(None, check=LEARNING_RATE, metavar="LR",
                                   help="learning rate of the QAT epochs (default: {lr} / 10)")
    nproc: int = setting(
        1, check=AT_LEAST_ONE, metavar="N",
        help="data-parallel processes on this machine (DDP via torchrun: one per GPU on CUDA, "
             "gloo on CPU); {batch_size} and {lr} stay the global values. Several machines: "
             "run `torchrun --nnodes ... -m sea.cli distill ...` yourself (see "
             "docs/scaling.md)")

    def check(self) -> None:
        if self.resume and self.overwrite:
            raise SettingError("resume", "{resume} and {overwrite} exclude each other")
        custom = [name for name in ("filters", "dim", *CUSTOM_FRONTEND_FIELDS)
                  if getattr(self, name) is not None]
        if self.student != "custom" and custom:
            raise SettingError(custom[0], f"{{{custom[0]}}} needs {{student}} custom")
        if self.student == "custom" and not self.filters:
            raise SettingError("filters", "{student} custom needs {filters}, e.g. 16,32,32,64")
        if self.qat_epochs is not None and not (self.qat and self.qat_epochs <= self.epochs):
            raise SettingError("qat_epochs", "{qat_epochs} needs {qat} and at most {epochs}")
        if self.qat_lr is not None and not self.qat:
            raise SettingError("qat_lr", "{qat_lr} needs {qat}")
        if self.qat and self.intermediate != "none":
            raise SettingError("qat", "{qat} cannot be combined with {intermediate} (the "
                               "fake-quantized body has no per-block hooks)")
        if self.qat and self.nproc > 1:
            raise SettingError("qat", "{qat} runs in one process only (its fake-quantized "
                               "graph has no rank-synchronised BatchNorm): drop {nproc}")

    @property
    def qat_epoch_count(self) -> int:
        """Epochs trained through the fake-quantized body (0 without qat)."""
        if not self.qat:
            return 0
        return self.qat_epochs if self.qat_epochs is not None else default_qat_epochs(self.epochs)

    @property
    def qat_learning_rate(self) -> float:
        return self.qat_lr if self.qat_lr is not None else self.lr / 10

    def student_config(self) -> ModelConfig:
        """The ModelConfig `student` names (with the custom settings for `custom`)."""
        from sea.configs import SEA_FRONTEND, custom_config, get_config

        if self.student != "custom":
            cfg = get_config(self.student)
            if cfg.family != "student":
                raise SettingError("student", f"{self.student} is not a student; use "
                                   "student0..student3 or custom")
            return cfg
        given = {name: getattr(self, name) for name in CUSTOM_FRONTEND_FIELDS
                 if getattr(self, name) is not None}
        frontend = dataclasses.replace(SEA_FRONTEND, **given)
        if frontend.n_fft < frontend.hop_length:
            raise SettingError("n_fft", "{n_fft} must be at least {hop_length}")
        return custom_config(self.filters, self.dim, frontend=frontend,
                             name=f"custom-{'-'.join(map(str, self.filters))}")
