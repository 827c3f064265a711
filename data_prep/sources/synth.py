"""`synth:N[:SEED]`: N procedural 10 s urban soundscapes (SONYC-UST coarse classes).

Labels are the classes of the events mixed in; folds cycle 1..5; four simulated sensors
record consecutive 10 s clips from 2026-01-01T00:00:00, so time-aware sampling has a clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from data_prep.synth.scene import SceneSpec, SynthSettings
from data_prep.tasks import ClipTask, SourceError, SourcePlan

SENSORS = 4
EPOCH = datetime(2026, 1, 1)


def parse_spec(arg: str) -> tuple[int, int]:
    parts = arg.split(":")
    try:
        count = int(parts[0])
        seed = int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        raise SourceError(f"synth:{arg}: expected synth:N[:SEED] with integers") from None
    if count < 0 or len(parts) > 2:
        raise SourceError(f"synth:{arg}: expected synth:N[:SEED]")
    return count, seed


def labelled_files(folder: str | None) -> tuple[tuple[str, str], ...]:
    """(label, path) for each file in a sub-folder of `folder` (label = sub-folder name)."""
    if not folder:
        return ()
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise SourceError(f"{folder}: not a directory")
    return tuple((p.relative_to(root).parts[0], str(p)) for p in sorted(root.rglob("*"))
                 if p.is_file() and len(p.relative_to(root).parts) > 1
                 and not p.name.startswith("."))


def plan(arg: str, options) -> SourcePlan:
    count, seed = parse_spec(arg)
    background = tuple(p for _, p in labelled_files(options.synth_background))
    settings = SynthSettings(duration=options.synth_duration,
                             foreground=labelled_files(options.synth_foreground),
                             background=background)
    tasks = []
    for index in range(count):
        scene = SceneSpec(seed, index, settings)
        stamp = EPOCH + timedelta(seconds=(index // SENSORS) * settings.duration)
        tasks.append(ClipTask(
            clip_id=f"synth-{seed}/{index:06d}", source=scene.descriptor, dataset="synth",
            fold=str(index % 5 + 1), sensor_id=f"synth-sensor-{index % SENSORS}",
            time=stamp.isoformat(), scene=scene))
    return SourcePlan(tasks)
