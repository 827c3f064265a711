"""Running a stage's work units on Ray (the `cluster` extra), imported only when a command
runs on Ray (`RaySettings.ray`).

A stage hands out the units it already writes atomically (embedding-store shards, clip-store
parts) to a pool of Ray actors. Each actor builds its heavy state (a model, an open store) once,
then processes one unit per call and writes that unit's file itself, on a filesystem every node
mounts. Actors are restartable and their calls retried, so a worker or node that dies costs
only the unit it was working on; the driver keeps no state that a re-run could not rebuild from
the files, so a killed driver resumes like a single-process run.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from sea.errors import SeaError
from sea.settings import AT_LEAST_ONE, NON_NEGATIVE, POSITIVE, Settings, setting

log = logging.getLogger(__name__)

# Times Ray re-runs one unit on a restarted actor before the command fails (re-running the
# command then resumes from the units already written).
UNIT_RETRIES = 3


class ClusterError(SeaError, ValueError):
    """Ray is not installed, not reachable, or a unit kept failing."""


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide to run: `address` is `local`, `auto` or `ray://host:port`. Made from
    checked settings (`RaySettings.ray_options`)."""

    address: str = "local"
    workers: int = 2
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0

    @property
    def torch_threads(self) -> int:
        """CPU threads each worker's torch may use: its reserved cores."""
        return max(1, int(self.cpus_per_worker))


@dataclass(frozen=True, kw_only=True)
class RaySettings(Settings):
    """The Ray settings of every command that can hand its work units to Ray (prepare,
    teacher-embed, evaluate): their settings classes inherit these."""

    ray: str | None = setting(
        None, const="local", metavar="ADDRESS",
        help="run the work on Ray (needs the `cluster` extra: pip install -e \".[cluster]\"): "
             "`local` (the default when ADDRESS is left out) starts Ray on this machine for "
             "the command; `auto` or ray://HOST:PORT joins a running cluster. Stores must be "
             "on a filesystem every node mounts, at the same path")
    ray_workers: int = setting(2, check=AT_LEAST_ONE, metavar="N",
                               help="Ray actors (model copies) working at once")
    ray_cpus_per_worker: float = setting(
        1.0, check=POSITIVE, metavar="C",
        help="CPU cores reserved per actor; torch uses that many threads")
    ray_gpus_per_worker: float = setting(
        0.0, check=NON_NEGATIVE, metavar="G",
        help="GPUs per actor, fractions allowed (0.5: two actors share a GPU)")

    def ray_options(self) -> RayOptions | None:
        """Where to run on Ray, or None without `ray`."""
        if self.ray is None:
            return None
        return RayOptions(self.ray, self.ray_workers, self.ray_cpus_per_worker,
                          self.ray_gpus_per_worker)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ClusterError("Ray is not installed: pip install -e \".[cluster]\" (ray[data])"
                           ) from None
    return ray


@contextmanager
def ray_session(opts: RayOptions) -> Iterator[Any]:
    """The `ray` module, connected to the cluster `opts.address` names.

    `local` starts a Ray instance sized for the workers and shuts it down afterwards; an
    instance already running in this process (e.g. a test's) is reused and left running.
    """
    ray = _import_ray()
    if ray.is_initialized():
        yield ray
        return
    if opts.address == "local":
        ray.init(num_cpus=max(1, int(opts.workers * opts.cpus_per_worker + 0.999)),
                 include_dashboard=False, log_to_driver=False)
    else:
        try:
            ray.init(address=opts.address, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ClusterError(f"cannot join the Ray cluster at {opts.address}: {exc}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def run_units(worker_class: type, init_args: tuple, units: Iterable[Any], opts: RayOptions,
              on_done: Callable[[Any], None] = lambda result: None) -> None:
    """Call `worker_class(*init_args).process(unit)` for every unit on a pool of Ray actors.

    `on_done` gets each result in the order the units finish. A unit whose actor dies is
    re-run on the restarted actor up to UNIT_RETRIES times; after that the command fails with
    a ClusterError and the units already written stay written.
    """
    units = list(units)
    if not units:
        return
    with ray_session(opts) as ray:
        from ray.util import ActorPool

        actor = ray.remote(worker_class).options(
            num_cpus=opts.cpus_per_worker, num_gpus=opts.gpus_per_worker,
            max_restarts=-1, max_task_retries=UNIT_RETRIES)
        shared = [ray.put(arg) for arg in init_args]  # one copy in the object store, not N
        actors = [actor.remote(*shared) for _ in range(min(opts.workers, len(units)))]
        try:
            pool = ActorPool(actors)
            for result in pool.map_unordered(lambda a, unit: a.process.remote(unit), units):
                on_done(result)
        except ray.exceptions.RayError as exc:
            raise ClusterError(f"a Ray worker kept failing ({type(exc).__name__}): {exc}; "
                               "re-run the same command to resume") from None
        finally:
            for a in actors:  # free their cores in a reused instance
                ray.kill(a)
