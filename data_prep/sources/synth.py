"""`synth:N[:SEED]`: N procedural 10 s urban soundscapes (SONYC-UST coarse classes).

Labels are the classes of the events mixed in; folds cycle 1..5; four simulated sensors
record consecutive 10 s clips from 2026-01-01T00:00:00, so time-aware sampling has a clock.
Counts and durations are bounded: every planned scene is a task in memory and every scene is
rendered whole, so `synth:1000000000` is refused in one line instead of exhausting memory.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from data_prep.synth.scene import SceneSpec, SynthSettings
from data_prep.tasks import ClipTask, SourceError, SourcePlan
from sea.files import walk_files

SENSORS = 4
EPOCH = datetime(2026, 1, 1)
MAX_SCENES = 1_000_000  # ~2,800 hours of 10 s scenes: far beyond any distillation run
MAX_SCENE_SECONDS = 600.0  # a scene is rendered in memory (float64): <1 GB even at 192 kHz


def parse_spec(arg: str) -> tuple[int, int]:
    parts = arg.split(":")
    try:
        count = int(parts[0])
        seed = int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        raise SourceError(f"synth:{arg}: expected synth:N[:SEED] with integers") from None
    if count < 0 or len(parts) > 2:
        raise SourceError(f"synth:{arg}: expected synth:N[:SEED]")
    if count > MAX_SCENES:
        raise SourceError(f"synth:{arg}: at most {MAX_SCENES:,} scenes per source "
                          "(give several synth:N:SEED sources with different seeds for more)")
    return count, seed


def labelled_files(folder: str | None,
                   problems: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """(label, path) for each file in a sub-folder of `folder` (label = sub-folder name);
    what the walk cannot or may not read (links out of `folder`) is added to `problems`."""
    if not folder:
        return ()
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise SourceError(f"{folder}: not a directory")
    files, trouble = walk_files(root, skip_hidden=True, confine=True)
    problems += trouble
    return tuple((p.relative_to(root).parts[0], str(p)) for p in files
                 if len(p.relative_to(root).parts) > 1)


def plan(arg: str, options) -> SourcePlan:
    count, seed = parse_spec(arg)
    if not 0 < options.synth_duration <= MAX_SCENE_SECONDS:
        raise SourceError(f"synth:{arg}: scene duration {options.synth_duration:g} s is not "
                          f"in (0, {MAX_SCENE_SECONDS:g}] s")
    problems: list[tuple[str, str]] = []
    background = tuple(p for _, p in labelled_files(options.synth_background, problems))
    settings = SynthSettings(duration=options.synth_duration,
                             foreground=labelled_files(options.synth_foreground, problems),
                             background=background)
    tasks = []
    for index in range(count):
        scene = SceneSpec(seed, index, settings)
        stamp = EPOCH + timedelta(seconds=(index // SENSORS) * settings.duration)
        tasks.append(ClipTask(
            clip_id=f"synth-{seed}/{index:06d}", source=scene.descriptor, dataset="synth",
            fold=str(index % 5 + 1), sensor_id=f"synth-sensor-{index % SENSORS}",
            time=stamp.isoformat(), scene=scene))
    return SourcePlan(tasks, problems)
