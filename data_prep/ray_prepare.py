"""`sea prepare --ray`: Ray actors write store parts, the driver's index joins them.

The planned clips are cut into units of consecutive tasks; unit k is written by one actor as a
complete little clip store `OUT/parts/part-k` (its own crash-safe writer: a killed actor loses
at most the clip it was writing, and its retry resumes the part). The driver joins finished
parts into OUT's index in unit order, so the store lists the clips in the same order as a
single-process run, and its content digest (over clip ids and audio) is the same. The audio
stays in the parts: no second copy through one writer. Joining is idempotent, so a killed
driver re-run finishes the job: clips already indexed are skipped everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from data_prep.tasks import ClipTask
from sea.cluster import RayOptions, run_units
from sea.store import AUDIO_DTYPES, PARTS_DIR, StoreWriter

UNIT_CLIPS = 64  # clips per store part: small enough that a lost worker costs little


def part_dir(out: Path, unit: int) -> Path:
    return out / PARTS_DIR / f"part-{unit:05d}"


class PartWriter:
    """Ray actor body: decodes the tasks of one unit into that unit's store part."""

    def __init__(self, out: str, sample_rate: int, audio_dtype: str) -> None:
        self.out, self.sample_rate, self.audio_dtype = Path(out), sample_rate, audio_dtype

    def process(self, unit: tuple[int, list[ClipTask]]) -> int:
        """Write (or finish) part k of `unit` = (k, tasks); returns k."""
        from data_prep.prepare import open_decoder, store_task

        k, tasks = unit
        with StoreWriter(part_dir(self.out, k), sample_rate=self.sample_rate,
                         audio_dtype=self.audio_dtype) as writer:
            for task in tasks:
                if task.clip_id not in writer:
                    store_task(writer, task, *open_decoder(task, self.sample_rate))
        return k


def prepare_parts_on_ray(tasks: list[ClipTask], writer: StoreWriter, opts: RayOptions,
                         progress: Callable[[int], object]) -> None:
    """Store every task not yet in `writer` through Ray-written parts joined in task order."""
    out = writer.path.resolve()
    unit_clips = UNIT_CLIPS
    units = [tasks[i: i + unit_clips] for i in range(0, len(tasks), unit_clips)]
    todo = {k: sum(t.clip_id not in writer for t in unit) for k, unit in enumerate(units)}
    todo = {k: count for k, count in todo.items() if count}
    waiting = sorted(todo)  # units not yet joined, in task order
    finished: set[int] = set()

    def join(k: int) -> None:
        finished.add(k)
        progress(todo[k])
        while waiting and waiting[0] in finished:  # join in task order, not finishing order
            writer.adopt_part(part_dir(out, waiting.pop(0)))

    dtype = {v.str: k for k, v in AUDIO_DTYPES.items()}[writer.audio_dtype.str]
    run_units(PartWriter, (str(out), writer.sample_rate, dtype), [(k, units[k]) for k in todo],
              opts, on_done=join)
