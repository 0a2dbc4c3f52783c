"""Collect scoring requests from many threads (or coroutines) into batches: up to `max_batch_size`
items, or whatever arrived within `max_wait_ms` of the first one (or, with `max_idle_ms`, until no
item arrived for that long). Each caller gets its own results
back. The reward-model server batches model calls with it; the trainer adapters batch HTTP requests
with it, so a peer that calls the reward one sample at a time still gets batch speed."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any


@dataclass
class BatchStats:
    size: int
    queue_wait_s: float
    seconds: float


class DynamicBatcher:
    def __init__(
        self,
        fn: Callable[[list[Any]], list[Any]],
        max_batch_size: int = 16,
        max_wait_ms: float = 10.0,
        on_batch: Callable[[BatchStats], None] | None = None,
        name: str = "batcher",
        max_idle_ms: float | None = None,
        in_flight: int = 1,
    ) -> None:
        """`in_flight`: batches that may run at once (1: the next batch waits for this one, as a
        single model on one device must; more: an HTTP client keeps collecting while a request is out)."""
        self.fn, self.max_batch_size, self.max_wait_s = fn, max_batch_size, max_wait_ms / 1000
        self.max_idle_s = max_idle_ms / 1000 if max_idle_ms is not None else None
        self.on_batch = on_batch
        self._queue: queue.Queue[tuple[Any, Future[Any], float] | None] = queue.Queue()
        self._runner = ThreadPoolExecutor(in_flight, thread_name_prefix=name) if in_flight > 1 else None
        self._thread = threading.Thread(target=self._loop, daemon=True, name=name)
        self._thread.start()

    def submit(self, items: Sequence[Any]) -> list[Future[Any]]:
        futures = []
        for item in items:
            future: Future[Any] = Future()
            self._queue.put((item, future, time.monotonic()))
            futures.append(future)
        return futures

    def map(self, items: Sequence[Any]) -> list[Any]:
        return [future.result() for future in self.submit(items)]

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(30)
        if self._runner is not None:
            self._runner.shutdown(wait=True)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self.max_wait_s
            while len(batch) < self.max_batch_size:
                wait = max(0.0, deadline - time.monotonic())
                if self.max_idle_s is not None:
                    wait = min(wait, self.max_idle_s)
                try:
                    entry = self._queue.get(timeout=wait)
                except queue.Empty:
                    break
                if entry is None:
                    self._queue.put(None)
                    break
                batch.append(entry)
            if self._runner is None:
                self._run(batch)
            else:
                self._runner.submit(self._run, batch)

    def _run(self, batch: list[tuple[Any, Future[Any], float]]) -> None:
        """Every caller of the batch gets an answer (a result or the exception), whatever happens;
        a caller that gave up (a cancelled future) is skipped."""
        started = time.monotonic()
        futures = [future for _, future, _ in batch]
        try:
            results = self.fn([item for item, _, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for a batch of {len(batch)}")
            outcomes: list[tuple[Any, BaseException | None]] = [(result, None) for result in results]
        except Exception as exc:
            outcomes = [(None, exc)] * len(batch)
        for future, (result, error) in zip(futures, outcomes, strict=True):
            if future.set_running_or_notify_cancel():
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(result)
        if self.on_batch is not None:
            with contextlib.suppress(Exception):  # metrics must never stop the batcher
                self.on_batch(
                    BatchStats(len(batch), started - min(t for _, _, t in batch), time.monotonic() - started)
                )
