"""Run a batch producer in a background thread and measure how long the consumer waits.

numpy gathers, soxr resampling and torch ops release the GIL, so one producer thread overlaps
data preparation with compute without the start-up cost of worker processes.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
_DONE = object()


class Prefetcher(Iterator[T]):
    """Iterate `items` `depth` steps ahead; `wait_seconds` is the consumer's blocked time."""

    def __init__(self, items: Iterable[T], depth: int = 2) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self.wait_seconds = 0.0
        self._thread = threading.Thread(target=self._produce, args=(iter(items),), daemon=True)
        self._thread.start()

    def _produce(self, it: Iterator[T]) -> None:
        try:
            for item in it:
                while not self._stop.is_set():
                    try:
                        self._queue.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
            self._queue.put((_DONE, None))
        except BaseException as exc:  # hand the producer's error to the consumer
            self._queue.put((_DONE, exc))

    def __next__(self) -> T:
        start = time.perf_counter()
        item, error = self._queue.get()
        self.wait_seconds += time.perf_counter() - start
        if item is _DONE:
            self._queue.put((_DONE, error))  # keep answering StopIteration
            if error is not None:
                raise error
            raise StopIteration
        return item

    def close(self) -> None:
        self._stop.set()
        while True:  # unblock a producer waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=5)

    def __enter__(self) -> "Prefetcher[T]":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
