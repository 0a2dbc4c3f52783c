"""A pool of worker processes that can be killed: the only safe way to put a hard timeout on sympy.

Each worker is a process with its own pipe, driven by one thread of the pool. A task that runs past
its timeout gets its worker SIGKILLed and replaced; a worker that dies mid-task has the task retried
once on a fresh worker. `map` is safe to call from many threads: concurrent requests share the
workers through one queue. Nothing here knows what the tasks compute: the math pool is this pool
with the grader preloaded (`service.runtime.resources`).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import queue
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from service.grading.errors import ErrorKind, GradingError, ScoreError
from service.runtime import metrics

_PR_SET_PDEATHSIG = 1
log = logging.getLogger("referee.pool")


@dataclass(frozen=True)
class Outcome:
    """A task's return value, or why there is none."""

    value: Any = None
    error: ScoreError | None = None


@dataclass
class _Task:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    timeout: float
    future: Future[Outcome]


def _die_with_parent() -> None:
    """Linux: get SIGKILL when the parent dies, so a killed server leaves no workers behind."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _worker_main(conn: Connection) -> None:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the server; it closes the pool
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply: tuple[str, Any] = ("ok", fn(*args))
        except GradingError as exc:
            reply = ("error", exc.error)
        except Exception as exc:
            reply = ("error", ScoreError(ErrorKind.worker_error, f"{type(exc).__name__}: {exc}"))
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return


_CLOSED = ScoreError(ErrorKind.pool_closed)


class _Worker:
    def __init__(self, context: multiprocessing.context.ForkServerContext) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child,), daemon=True)
        self.process.start()
        child.close()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()


class WorkerPool:
    def __init__(
        self,
        size: int,
        *,
        name: str,
        preload: Sequence[str] = (),
        burst: int = 0,
        grow_after_s: float = 0.5,
        idle_s: float = 5.0,
    ) -> None:
        """`preload`: modules the fork server imports once, so every worker (and every replacement
        of a killed one) starts warm. `burst`: extra workers started when every worker has been busy
        for `grow_after_s` while tasks wait, so a batch with many hanging tasks times them out side by
        side instead of one after another; an extra worker retires after `idle_s` without work."""
        if size < 1:
            raise ValueError("a pool needs at least one worker")
        # forkserver: workers never inherit the server's threads or locks, and a replacement
        # forks from a process that already imported the grader, so it is ready in milliseconds.
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(list(preload))
        self.name = name
        self.size = size
        self.burst = burst
        self.grow_after_s = grow_after_s
        self.idle_s = idle_s
        self.restarts = 0
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._workers: dict[int, _Worker | None] = {}
        self._busy_since: dict[int, float | None] = {}
        self._threads: dict[int, threading.Thread] = {}
        self._next_slot = 0
        with self._lock:
            for _ in range(size):
                self._add_slot(extra=False)
        if burst > 0:
            threading.Thread(target=self._watch, daemon=True, name=f"{name}-pool-watch").start()

    def map(
        self, fn: Callable[..., Any], args_list: Sequence[tuple[Any, ...]], timeout: float
    ) -> list[Outcome]:
        """Run `fn(*args)` for each args tuple; `fn` must be importable (pickled by reference)."""
        futures: list[Future[Outcome]] = []
        with self._lock:  # `close` drains the queue under the lock: nothing put here is left unanswered
            if self._closed:
                raise RuntimeError("the pool is closed")
            for args in args_list:
                future: Future[Outcome] = Future()
                self._tasks.put(_Task(fn, tuple(args), timeout, future))
                futures.append(future)
        return [future.result() for future in futures]

    def describe(self) -> dict[str, Any]:
        return {f"{self.name}_workers": self.size, f"{self.name}_burst_workers": self.burst}

    def worker_pids(self) -> list[int]:
        with self._lock:
            workers = list(self._workers.values())
        return [w.process.pid for w in workers if w is not None and w.process.pid is not None]

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = list(self._threads.values())
        for _ in threads:
            self._tasks.put(None)
        for thread in threads:
            thread.join(10)
        with self._lock:
            for slot, worker in self._workers.items():
                if worker is not None:
                    worker.kill()
                    self._workers[slot] = None
            while True:  # whatever was still queued is answered, never left hanging
                try:
                    task = self._tasks.get_nowait()
                except queue.Empty:
                    break
                if task is not None and not task.future.done():
                    task.future.set_result(Outcome(error=_CLOSED))
        metrics.WORKER_POOL_SIZE.labels(pool=self.name).set(0)

    def _add_slot(self, extra: bool) -> None:
        """A worker and the thread that drives it (called with the lock held)."""
        slot = self._next_slot
        self._next_slot += 1
        self._workers[slot] = _Worker(self._context)
        self._busy_since[slot] = None
        thread = threading.Thread(
            target=self._serve, args=(slot, extra), daemon=True, name=f"{self.name}-pool-{slot}"
        )
        self._threads[slot] = thread
        thread.start()
        metrics.WORKER_POOL_SIZE.labels(pool=self.name).set(len(self._workers))

    def _retire(self, slot: int) -> None:
        with self._lock:
            worker = self._workers.pop(slot, None)
            self._busy_since.pop(slot, None)
            self._threads.pop(slot, None)
            metrics.WORKER_POOL_SIZE.labels(pool=self.name).set(len(self._workers))
        if worker is not None:
            worker.kill()

    def _watch(self) -> None:
        """Start extra workers while every worker is stuck and tasks wait."""
        while not self._closed:
            time.sleep(self.grow_after_s / 4)
            with self._lock:
                if self._closed:
                    return
                now = time.monotonic()
                stuck = all(
                    since is not None and now - since >= self.grow_after_s
                    for since in self._busy_since.values()
                )
                room = self.size + self.burst - len(self._workers)
                try:
                    for _ in range(min(room, self._tasks.qsize()) if stuck else 0):
                        self._add_slot(extra=True)
                except OSError as exc:  # out of processes or memory: serve with the workers there are
                    log.warning("%s pool: cannot start a burst worker: %s", self.name, exc)

    def _replace(self, slot: int, reason: str) -> None:
        old = self._workers.get(slot)
        if old is not None:
            old.kill()
        self._workers[slot] = None
        if not self._closed:
            try:
                self._workers[slot] = _Worker(self._context)
            except OSError as exc:  # retried before this slot's next task (`_run`)
                log.warning("%s pool: cannot start a worker: %s", self.name, exc)
        self.restarts += 1
        metrics.WORKER_RESTARTS.labels(pool=self.name, reason=reason).inc()

    def _serve(self, slot: int, extra: bool) -> None:
        while True:
            try:
                task = self._tasks.get(timeout=self.idle_s) if extra else self._tasks.get()
            except queue.Empty:
                self._retire(slot)
                return
            if task is None:
                return
            self._busy_since[slot] = time.monotonic()
            try:
                outcome = self._run(slot, task)
                if (
                    outcome.error is not None
                    and outcome.error.kind == ErrorKind.worker_crashed
                    and not self._closed
                ):
                    outcome = self._run(slot, task)  # once more, on a fresh worker
            except Exception as exc:  # whatever happens here, the caller gets an answer
                outcome = Outcome(error=ScoreError(ErrorKind.worker_error, f"{type(exc).__name__}: {exc}"))
            self._busy_since[slot] = None
            if not task.future.done():
                task.future.set_result(outcome)

    def _run(self, slot: int, task: _Task) -> Outcome:
        worker = self._workers.get(slot)
        if worker is None and not self._closed:
            self._replace(slot, "restart")  # an earlier replacement could not start
            worker = self._workers.get(slot)
        if worker is None:
            return Outcome(error=_CLOSED if self._closed else ScoreError(ErrorKind.worker_crashed))
        try:
            worker.conn.send((task.fn, task.args))
            if not worker.conn.poll(task.timeout):
                self._replace(slot, ErrorKind.timeout.value)
                return Outcome(error=ScoreError(ErrorKind.timeout))
            status, value = worker.conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            self._replace(slot, ErrorKind.worker_crashed.value)
            return Outcome(error=ScoreError(ErrorKind.worker_crashed))
        except Exception as exc:  # e.g. the task could not be pickled
            return Outcome(error=ScoreError(ErrorKind.worker_error, f"{type(exc).__name__}: {exc}"))
        return Outcome(value=value) if status == "ok" else Outcome(error=value)
