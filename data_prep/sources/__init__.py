"""Source specs (`NAME:ARG`) for `sea prepare`, each planned into ClipTasks."""

from __future__ import annotations

from typing import Callable, Iterable

from data_prep.settings.sources import SourceOptions
from data_prep.sources import esc50, folder, sonyc_ust, synth, urban_eval, urbansound8k
from data_prep.tasks import SourceError, SourcePlan


PLANNERS: dict[str, Callable[[str, SourceOptions], SourcePlan]] = {
    "folder": folder.plan,
    "urbansound8k": urbansound8k.plan,
    "esc50": esc50.plan,
    "esc10": esc50.plan_esc10,
    "sonyc-ust": sonyc_ust.plan,
    "urban-eval": urban_eval.plan,
    "synth": synth.plan,
}


def plan_sources(specs: Iterable[str], options: SourceOptions = SourceOptions()) -> SourcePlan:
    """Plan every `NAME:ARG` spec; raises SourceError for an unusable spec."""
    plan = SourcePlan()
    for spec in specs:
        name, sep, arg = spec.partition(":")
        if not sep or name not in PLANNERS:
            raise SourceError(f"unknown source {spec!r}: use one of "
                              + ", ".join(f"{n}:..." for n in PLANNERS))
        plan.extend(PLANNERS[name](arg, options))
    return plan
