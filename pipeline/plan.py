"""What a quickstart run is: its settings, its steps in order, and the fixed choices they share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sea.errors import SeaError
from sea.settings import (AT_LEAST_ONE, LEARNING_RATE, POSITIVE, Interval, OneOf, Settings,
                          SettingError, setting)
from sea.weights import unpublished_teacher

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


@dataclass(frozen=True, kw_only=True)
class QuickstartSettings(Settings):
    """The settings of `sea quickstart` and of pipeline.quickstart.Quickstart. The outputs
    depend on the recorded ones: a re-run must use the same values to resume."""

    out: Path = setting(metavar="DIR", record=False,
                        help="directory for every step's output (created; re-use it to resume; "
                             "a non-empty directory that is not a quickstart's is refused)")
    clips: int = setting(100, check=Interval(2), help="synthesized 10-s soundscapes to build")
    seed: int = setting(0, help="seed of the soundscapes and training")
    epochs: int = setting(5, check=AT_LEAST_ONE, help="distillation epochs")
    teacher: str = setting(
        "auto", help="teacher config name (see `sea models`), random:CONFIG (seeded random "
                     "weights, a pipeline test) or auto (default): the best teacher whose "
                     "weights are on this machine, else a download of the published OpenL3 "
                     "mel256-env (see above)")
    teacher_weights: str | None = setting(
        None, metavar="PATH", help="Keras .h5 weights for a named {teacher}, e.g. {teacher} "
                                   "edgel3-sea-64 {teacher_weights} edgel3_sea_ust_audio_emb_64.h5")
    dim: int = setting(128, check=AT_LEAST_ONE,
                       help="PCA target size for {student} auto (the paper's Student 2; capped "
                            "at the teacher's embedding size)")
    student: str = setting("auto", help="auto (the paper's student with {dim} outputs), "
                                        "student0..student3, or custom (with {filters})")
    filters: tuple[int, ...] | None = setting(
        None, check=AT_LEAST_ONE, metavar="A,B,C,D",
        help="custom student: filters per conv block, e.g. 8,16,16,32 (its embedding size, "
             "the last number, sets the PCA size)")
    lr: float = setting(1e-3, check=LEARNING_RATE,
                        help="distillation learning rate (high: few epochs)")
    batch_size: int = setting(64, check=AT_LEAST_ONE, help="distillation batch")
    eval_hop: float = setting(1.0, check=POSITIVE,
                              help="seconds between embedding windows in the evaluation")
    teacher_eval: str = setting(
        "auto", check=OneOf(("auto", "yes", "no")),
        help="also evaluate the teacher: auto (default) does when its measured speed fits in "
             "3 minutes and its weights are pretrained")
    overwrite: bool = setting(False, record=False,
                              help="start over in {out} instead of resuming what is there")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.filters and self.student == "auto":  # filters alone ask for a custom student
            object.__setattr__(self, "student", "custom")

    def check(self) -> None:
        refusal = None if self.teacher_weights else unpublished_teacher(self.teacher,
                                                                        "teacher_weights")
        if refusal:  # refused before the first step, not after minutes of synthesis
            raise SettingError("teacher", refusal)
        if self.teacher_weights and self.teacher == "auto":
            raise SettingError("teacher_weights", "{teacher_weights} needs {teacher} NAME, the "
                               "architecture of the weight file (e.g. edgel3-sea-64)")
        if self.filters and self.student not in ("auto", "custom"):
            raise SettingError("filters", "{filters} needs {student} custom (or auto)")
        if self.filters and len(self.filters) != 4:
            raise SettingError("filters", f"{{filters}} needs four numbers, one per conv block, "
                                          f"got {len(self.filters)}")
        if self.student == "custom" and not self.filters:
            raise SettingError("student", "{student} custom needs {filters}, e.g. 8,16,16,32")
