"""The killable pool: hard timeouts, crashed workers, concurrent callers, clean shutdown."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from service.grading.errors import ErrorKind, ScoreError
from service.runtime.worker_pool import WorkerPool
from tests import pool_tasks


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    pool = WorkerPool(2, name="test")
    yield pool
    pool.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_results_in_order_and_errors_are_reported(pool: WorkerPool) -> None:
    outcomes = pool.map(pool_tasks.square, [(i,) for i in range(20)], timeout=10)
    assert [o.value for o in outcomes] == [i * i for i in range(20)]
    failed = pool.map(pool_tasks.fail, [("bad input",)], timeout=10)[0]
    assert failed.value is None and failed.error == ScoreError(
        ErrorKind.worker_error, "ValueError: bad input"
    )
    assert str(failed.error) == "worker_error: ValueError: bad input"


def test_a_stuck_task_times_out_its_worker_is_replaced_and_the_rest_finishes(pool: WorkerPool) -> None:
    before = set(pool.worker_pids())
    started = time.monotonic()
    outcomes = pool.map(pool_tasks.sleep_then_square, [(0, 1), (60, 2), (0, 3), (0, 4)], timeout=2)
    elapsed = time.monotonic() - started
    assert [o.value for o in outcomes] == [1, None, 9, 16]
    assert outcomes[1].error == ScoreError(ErrorKind.timeout)
    assert elapsed < 2 + 3
    assert pool.restarts == 1
    killed = before - set(pool.worker_pids())
    assert len(killed) == 1 and not alive(killed.pop())
    assert [o.value for o in pool.map(pool_tasks.square, [(5,), (6,)], timeout=10)] == [25, 36]


def test_a_worker_killed_mid_task_is_replaced_and_the_task_retried(pool: WorkerPool) -> None:
    marker = threading.Event()

    def kill_busy_worker() -> None:
        time.sleep(0.5)
        for pid in pool.worker_pids():
            os.kill(pid, signal.SIGKILL)
        marker.set()

    threading.Thread(target=kill_busy_worker).start()
    outcomes = pool.map(pool_tasks.sleep_then_square, [(1.5, i) for i in range(4)], timeout=20)
    assert marker.is_set()
    assert [o.value for o in outcomes] == [0, 1, 4, 9]  # retried on fresh workers, nothing lost
    assert pool.restarts >= 2


def test_a_task_that_kills_its_worker_twice_is_reported(pool: WorkerPool) -> None:
    outcomes = pool.map(pool_tasks.crash, [()], timeout=10)
    assert outcomes[0].error == ScoreError(ErrorKind.worker_crashed)
    assert pool.map(pool_tasks.square, [(3,)], timeout=10)[0].value == 9


def test_concurrent_callers_share_the_pool(pool: WorkerPool) -> None:
    results: dict[int, list[int]] = {}

    def call(caller: int) -> None:
        outcomes = pool.map(pool_tasks.square, [(caller * 100 + i,) for i in range(25)], timeout=20)
        results[caller] = [o.value for o in outcomes]

    threads = [threading.Thread(target=call, args=(c,)) for c in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == {c: [(c * 100 + i) ** 2 for i in range(25)] for c in range(8)}


def test_close_leaves_no_process_behind() -> None:
    pool = WorkerPool(2, name="test")
    pids = pool.worker_pids()
    assert all(alive(pid) for pid in pids)
    pool.close()
    assert not any(alive(pid) for pid in pids)
    with pytest.raises(RuntimeError):
        pool.map(pool_tasks.square, [(1,)], timeout=1)
