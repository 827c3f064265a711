"""What a quickstart run is: its settings, its steps in order, and the fixed choices they share."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from sea.errors import SeaError

KIND = "quickstart"
STATE_FILE = "quickstart.json"
# (step = the Quickstart method that runs it, the file whose presence says its output is complete)
STEPS = (("store", "store/manifest.json"), ("teacher", "teacher/manifest.json"),
         ("reducer", "reducer/manifest.json"), ("student", "student/manifest.json"),
         ("bundle", "bundle/manifest.json"), ("report", "report/results.json"),
         ("node", "node/windows.jsonl"))
# Synth scenes are multi-label and numbered in folds 1..5 (data_prep/sources/synth.py).
PROTOCOL = "folds-multilabel"
NODE_VARIANT = "outside"  # the node's default graph: numpy frontend, int8 network
# One fixed thread count for the teacher, the distillation and the evaluation: float sums
# depend on how work is split, so it makes the headline repeat on every machine of a kind.
THREADS = 2


class QuickstartError(SeaError):
    """A quickstart step cannot run or failed; the message says which and how to go on."""


@dataclass(frozen=True)
class Settings:
    """What the outputs depend on; a re-run must use the same values to resume."""

    clips: int = 100
    seed: int = 0
    epochs: int = 5
    teacher: str = "auto"
    teacher_weights: str | None = None
    dim: int = 128
    student: str = "auto"
    filters: tuple[int, ...] | None = None
    lr: float = 1e-3
    batch_size: int = 64
    eval_hop: float = 1.0
    teacher_eval: str = "auto"

    def as_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))
