"""Collect scoring requests from many threads into batches: up to `max_batch_size` items, or
whatever arrived within `max_wait_ms` of the first one. Each caller gets its own results back."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
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
    ) -> None:
        self.fn, self.max_batch_size, self.max_wait_s = fn, max_batch_size, max_wait_ms / 1000
        self.on_batch = on_batch
        self._queue: queue.Queue[tuple[Any, Future[Any], float] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="rm-batcher")
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

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self.max_wait_s
            while len(batch) < self.max_batch_size:
                try:
                    entry = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if entry is None:
                    self._queue.put(None)
                    break
                batch.append(entry)
            self._run(batch)

    def _run(self, batch: list[tuple[Any, Future[Any], float]]) -> None:
        started = time.monotonic()
        try:
            results = self.fn([item for item, _, _ in batch])
        except Exception as exc:  # every caller of this batch learns why
            for _, future, _ in batch:
                future.set_exception(exc)
            return
        for (_, future, _), result in zip(batch, results, strict=True):
            future.set_result(result)
        if self.on_batch is not None:
            self.on_batch(
                BatchStats(len(batch), started - min(t for _, _, t in batch), time.monotonic() - started)
            )
