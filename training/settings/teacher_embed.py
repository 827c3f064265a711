"""Settings of `sea teacher-embed` and of `training.teacher_embed.embed_store` (the same
object)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sea.cluster import RaySettings
from sea.settings import AT_LEAST_ONE, POSITIVE, CpuCount, SettingError, setting
from sea.weights import unpublished_teacher
from training.settings.inference import InferenceSettings


@dataclass(frozen=True, kw_only=True)
class TeacherEmbedSettings(InferenceSettings, RaySettings):
    store: Path = setting(positional=True, metavar="STORE", help="clip store directory")
    teacher: str = setting(
        "auto", help="config name (see `sea models`), checkpoint dir, bundle dir (its TFLite "
                     "model, e.g. int8), auto, or random:CONFIG for seeded random weights")
    weights: Path | None = setting(None, help="Keras .h5 weights for a named {teacher}")
    out: Path = setting(metavar="EMB", help="embedding store directory to write (or resume)")
    hop: float = setting(1.0, check=POSITIVE, help="hop between windows, s")
    center: bool = setting(
        False, help="centre windows on hop multiples (pad half a window at the start)")
    float16: bool = setting(False, help="store embeddings as float16")
    batch_size: int = setting(64, check=AT_LEAST_ONE, help="windows per forward pass")
    shard_rows: int = setting(4096, check=AT_LEAST_ONE, help="windows per shard file")
    threads: int | None = setting(
        None, check=CpuCount(),
        help="CPU threads for torch (default: every core; fewer can be faster on a machine "
             "busy with other work)")
    seed: int = setting(0, help="seed of a random-weight teacher")
    overwrite: bool = setting(
        False, help="replace an embedding store already in {out} (default: resume it)")
    block_features: bool = setting(
        False, help="also store each teacher block's mean-pooled activations in EMB/blocks "
                    "(for `sea distill --intermediate alp`)")

    def check(self) -> None:
        refusal = None if self.weights else unpublished_teacher(self.teacher, "weights")
        if refusal:
            raise SettingError("teacher", refusal)
        if self.block_features and (self.ray is not None or self.precision != "float32"):
            raise SettingError("block_features", "{block_features} runs the float32 teacher "
                               "in this process: drop {ray} and {precision} bf16")

    @property
    def dtype(self) -> str:
        """The stored embeddings' dtype."""
        return "float16" if self.float16 else "float32"
