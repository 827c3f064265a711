"""Plan sources, decode in parallel, append to a clip store; resumable and skip-tolerant."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import threading
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable, Iterable, Iterator

from data_prep.decode import BLOCK_FRAMES, Decoded, describe_error, materialize, task_blocks
from data_prep.sample_type import choose_audio_dtype
from data_prep.settings.prepare import PrepareSettings
from data_prep.settings.sources import SourceOptions
from data_prep.sources import plan_sources
from data_prep.tasks import ClipTask, SourceError
from sea.output import existing_kind
from sea.store import KIND as STORE_KIND, SPOOL_DIR, ClipStore, StoreWriter

log = logging.getLogger(__name__)


def unique_tasks(tasks: Iterable[ClipTask]) -> list[ClipTask]:
    """One task per clip id. The same input planned twice (a source given twice) is kept once;
    two different inputs that map to one clip id stop the run, naming both (never one dropped)."""
    seen: dict[str, ClipTask] = {}
    for task in tasks:
        first = seen.setdefault(task.clip_id, task)
        if first == task:
            continue
        if first.source == task.source:
            raise SourceError(f"{task.source} is listed twice with different metadata "
                              f"({first.labels}, fold {first.fold} vs {task.labels}, fold "
                              f"{task.fold}); fix the metadata file")
        raise SourceError(f"{first.source} and {task.source} both map to clip id "
                          f"{task.clip_id!r}; rename one, or prepare them into separate stores")
    return list(seen.values())


def check_stored_sources(out: Path, tasks: list[ClipTask]) -> None:
    """Refuse a task whose clip id the store at `out` already holds from another input (it
    would be skipped as 'already done' and silently lost)."""
    if existing_kind(out) != STORE_KIND or not (out / "manifest.json").is_file():
        return
    stored = {r.clip_id: r.source for r in ClipStore(out).records}
    for task in tasks:
        source = stored.get(task.clip_id)
        if source is not None and source != task.source:
            raise SourceError(f"{task.source} maps to clip id {task.clip_id!r}, which "
                              f"{out} already holds from {source}; prepare it into "
                              "another store")


def source_paths(sources: Iterable[str], options: SourceOptions) -> list[str]:
    """The folders read whole (every file under them): the output must not overlap them.
    Dataset sources read only the files their metadata lists, so a store beside them is safe."""
    paths = [arg for name, _, arg in (s.partition(":") for s in sources) if name == "folder"]
    return paths + [p for p in (options.synth_foreground, options.synth_background) if p]


def _exit_with_parent(parent: int) -> None:
    """Worker initializer: exit once the parent is gone (e.g. SIGKILLed), not linger."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, initializer=_exit_with_parent,
                               initargs=(os.getpid(),))


def _ordered_results(tasks: list[ClipTask], work: Callable[[ClipTask], Decoded],
                     workers: int) -> Iterator[Decoded]:
    """Results in task order with at most 4 * workers tasks in flight (bounded memory).

    If a decoder process dies (a crash inside a codec), the pool is rebuilt and the oldest
    pending task is retried alone, so only the input that kills the decoder is skipped.
    """
    window = 4 * workers
    todo = deque(tasks)
    pool = _pool(workers)
    pending: deque = deque()
    try:
        while todo or pending:
            while todo and len(pending) < window:
                task = todo.popleft()
                pending.append((task, pool.submit(work, task)))
            task, future = pending.popleft()
            try:
                yield future.result()
            except BrokenProcessPool:
                pool.shutdown(cancel_futures=True)
                todo.extendleft(t for t, _ in reversed(pending))
                pending.clear()
                with _pool(1) as alone:
                    try:
                        yield alone.submit(work, task).result()
                    except BrokenProcessPool:
                        yield Decoded(task, error="decoder process crashed on this input")
                pool = _pool(workers)
    finally:
        pool.shutdown(cancel_futures=True)


def _add(writer: StoreWriter, task: ClipTask, blocks, events: tuple) -> None:
    # Synthesized scenes are labelled by the events actually mixed in.
    labels = tuple(sorted({e.label for e in events})) if task.scene is not None else task.labels
    writer.add(task.clip_id, blocks, source=task.source, dataset=task.dataset, labels=labels,
               fold=task.fold, sensor_id=task.sensor_id, time=task.time, group=task.group,
               events=events)


def store_task(writer: StoreWriter, task: ClipTask, blocks, events: tuple,
               error: str | None) -> str | None:
    """Add one decoded task to `writer`, or record why it is skipped; returns that reason."""
    if error is None:
        try:
            _add(writer, task, blocks, events)
        except OSError:
            raise  # the store itself failed (disk full, ...): stop
        except Exception as exc:
            error = describe_error(exc)
    if error is not None:
        log.warning("skipped %s: %s", task.source, error)
        writer.skip(task.source, error, task.clip_id)
    return error


def open_decoder(task: ClipTask, sample_rate: int) -> tuple[Iterator | None, tuple, str | None]:
    """(streamed blocks, events, None), or (None, (), reason) for an input that cannot open."""
    try:
        blocks, events = task_blocks(task, sample_rate)
    except Exception as exc:
        return None, (), describe_error(exc)
    return blocks, events, None


def prepare(settings: PrepareSettings) -> dict:
    """Build or extend the store at `settings.out` from `settings.sources`; returns its
    manifest. Re-running resumes; `overwrite` replaces an existing store instead.

    With `ray`, Ray actors write store parts that this store's index joins
    (`data_prep.ray_prepare`); the clips, their order and the content digest are the same.
    `audio_dtype`: float32, int16 or auto (see `data_prep.sample_type`)."""
    from tqdm import tqdm

    sources, out, sample_rate = list(settings.sources), settings.out, settings.sample_rate
    plan = plan_sources(sources, settings)
    tasks = unique_tasks(plan.tasks)
    check_stored_sources(out, tasks)
    writer = StoreWriter(out, sample_rate=sample_rate, overwrite=settings.overwrite,
                         inputs=source_paths(sources, settings),
                         audio_dtype=choose_audio_dtype(settings.audio_dtype, tasks, out))
    spool = out / SPOOL_DIR
    shutil.rmtree(spool, ignore_errors=True)  # leftovers of a killed run
    spool.mkdir()
    try:
        for path, reason in plan.problems:
            log.warning("skipped %s: %s", path, reason)
            writer.skip(path, reason)
        todo = [t for t in tasks if t.clip_id not in writer]
        log.info("%d clips planned, %d already stored, %d to do", len(tasks),
                 len(tasks) - len(todo), len(todo))
        bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), unit="clip",
                   disable=not settings.progress, smoothing=0.1)
        stored_bytes, skipped, start = 0, 0, time.monotonic()

        def record(task: ClipTask, blocks, events, error: str | None) -> None:
            nonlocal stored_bytes, skipped
            if store_task(writer, task, blocks, events, error) is None:
                stored_bytes += writer.records[-1].num_samples * 4
            else:
                skipped += 1
            bar.update()
            mb_s = stored_bytes / 1e6 / max(time.monotonic() - start, 1e-9)
            bar.set_postfix_str(f"{mb_s:.1f} MB/s, {skipped} skipped", refresh=False)

        ray = settings.ray_options()
        if ray is not None:
            from data_prep.ray_prepare import prepare_parts_on_ray

            prepare_parts_on_ray(tasks, writer, ray, bar.update)
        elif settings.workers <= 1:  # stream straight from the decoder into the store
            for task in todo:
                record(task, *open_decoder(task, sample_rate))
        else:
            work = functools.partial(materialize, sr=sample_rate, spool_dir=str(spool))
            for result in _ordered_results(todo, work, settings.workers):
                try:
                    record(result.task, result.blocks(), result.events, result.error)
                finally:
                    result.discard()
        bar.close()
        previous = writer.previous_manifest.get("sources", [])
        manifest = writer.close(sources=previous + [s for s in sources if s not in previous],
                                resampler="soxr HQ, streamed in blocks of "
                                          f"{BLOCK_FRAMES} input frames")
    except BaseException:
        writer.close(complete=False)
        raise
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    return manifest
