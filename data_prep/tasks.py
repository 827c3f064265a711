"""What a source plans: one `ClipTask` per clip to store, plus inputs it could not use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sea.errors import SeaError


class SourceError(SeaError, ValueError):
    """A source spec that cannot be used at all (missing folder, no metadata file, ...)."""


@dataclass(frozen=True)
class ClipTask:
    """One clip to decode (from `path`) or synthesize (from `scene`) into the store."""

    clip_id: str
    source: str  # recorded as ClipRecord.source: the input path or a synth descriptor
    dataset: str
    labels: tuple[str, ...] = ()
    fold: str | None = None
    sensor_id: str | None = None
    time: str | None = None
    group: str | None = None
    path: str | None = None
    scene: Any = None  # data_prep.synth.scene.SceneSpec for synthesized clips


@dataclass
class SourcePlan:
    tasks: list[ClipTask] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def extend(self, other: "SourcePlan") -> None:
        self.tasks.extend(other.tasks)
        self.problems.extend(other.problems)
