"""`/v1/rewards/jobs`: submit, poll, cancel; the queue's bounds (429, TTL); priority and fairness
between runs, measured; the client twins."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from clients.client import AsyncRefereeClient, RefereeClient
from service.api.app import create_app
from service.settings import Settings
from tests.server_utils import free_port, running_server, serve_asgi


def code_items(count: int, tag: str, sleep: float = 0.0) -> list[dict[str, Any]]:
    """Distinct programs (a comment names each one), taking `sleep` seconds to answer."""
    return [
        {
            "id": f"{tag}{i}",
            "completion": f"```python\n# {tag}{i}\nimport time\n"
            f"time.sleep({sleep})\nprint(int(input()) + 1)\n```",
            "tests": [{"input": "1", "output": "2"}],
        }
        for i in range(count)
    ]


def math_items() -> list[dict[str, Any]]:
    return [
        {"id": f"m{i}", "prompt": "1+1?", "answer": "2", "completion": f"\\boxed{{{i % 3}}}"}
        for i in range(9)
    ]


def submit(url: str, body: dict[str, Any]) -> str:
    response = httpx.post(f"{url}/v1/rewards/jobs", json=body, timeout=30)
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def status(url: str, job_id: str, since: int = 0) -> dict[str, Any]:
    return httpx.get(f"{url}/v1/rewards/jobs/{job_id}", params={"since": since}, timeout=30).json()


def wait(url: str, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = status(url, job_id)
        if state["status"] in ("done", "cancelled"):
            return state
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def test_a_job_gives_the_same_results_as_one_request(live_server: str) -> None:
    body = {"rewards": {"math": 1.0}, "items": math_items()}
    whole = {
        r["id"]: r for r in httpx.post(f"{live_server}/v1/rewards", json=body, timeout=60).json()["results"]
    }
    job_id = submit(live_server, body)
    done = wait(live_server, job_id)
    assert done["status"] == "done" and done["scored"] == done["items"] == 9
    assert {r["id"]: r for r in done["results"]} == whole
    assert status(live_server, job_id, since=7)["results"] == done["results"][7:]  # incremental polling


def test_bad_requests_and_unknown_jobs_are_4xx(live_server: str) -> None:
    bad = httpx.post(
        f"{live_server}/v1/rewards/jobs", json={"rewards": {"nope": 1}, "items": math_items()}, timeout=30
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "rewards", "nope"]
    missing = httpx.get(f"{live_server}/v1/rewards/jobs/deadbeef", timeout=30)
    assert missing.status_code == 404 and missing.json()["detail"][0]["loc"] == ["path", "job_id"]
    assert httpx.delete(f"{live_server}/v1/rewards/jobs/deadbeef", timeout=30).status_code == 404


@pytest.mark.slow
def test_a_full_queue_is_429_with_retry_after_and_cancelling_frees_it() -> None:
    with running_server(job_max_queued_items=10, stream_concurrency=2) as url:
        first = submit(url, {"rewards": {"code": 1.0}, "items": code_items(8, "s", sleep=1.0)})
        full = httpx.post(
            f"{url}/v1/rewards/jobs", json={"rewards": {"code": 1.0}, "items": code_items(5, "x")}, timeout=30
        )
        assert full.status_code == 429 and full.headers["retry-after"] == "5"
        assert full.json()["detail"][0]["type"] == "queue_full"
        oversized = httpx.post(
            f"{url}/v1/rewards/jobs",
            json={"rewards": {"code": 1.0}, "items": code_items(11, "o")},
            timeout=30,
        )
        assert oversized.status_code == 413  # never fits: not a "retry later"
        time.sleep(0.5)
        cancelled = httpx.delete(f"{url}/v1/rewards/jobs/{first}", timeout=30).json()
        assert cancelled["status"] == "cancelled"
        time.sleep(1.5)  # the two units that were running finish, unreported
        after = status(url, first)
        assert after["status"] == "cancelled" and after["scored"] == 0
        started = time.perf_counter()
        fresh = submit(url, {"rewards": {"code": 1.0}, "items": code_items(10, "f")})  # the whole limit again
        assert wait(url, fresh)["scored"] == 10 and time.perf_counter() - started < 10


def test_finished_jobs_expire_and_the_store_stays_bounded() -> None:
    app = create_app(Settings(port=free_port(), job_ttl_s=0.3))
    body = {"rewards": {"format": 1.0}, "items": [{"completion": "<think>a</think> b"}]}
    with serve_asgi(app) as url:
        first = submit(url, body)
        assert wait(url, first)["status"] == "done"
        time.sleep(0.4)
        assert httpx.get(f"{url}/v1/rewards/jobs/{first}", timeout=30).status_code == 404
        for _ in range(400):
            submit(url, body)
        time.sleep(0.4)
        submit(url, body)  # every call forgets what has expired
        assert len(app.state.jobs.jobs) < 50  # 400 jobs passed through; their results are gone


def arrival(url: str, jobs: dict[str, str], timeout: float = 60) -> dict[str, float]:
    """When each job finished, in seconds from now."""
    started, finished = time.perf_counter(), {}
    while len(finished) < len(jobs) and time.perf_counter() - started < timeout:
        for name, job_id in jobs.items():
            if name not in finished and status(url, job_id)["status"] == "done":
                finished[name] = time.perf_counter() - started
        time.sleep(0.02)
    return finished


@pytest.fixture
def one_worker() -> Iterator[str]:
    """Units are scored one at a time: the order the queue picks them in is what the tests see."""
    with running_server(stream_concurrency=1) as url:
        yield url


def test_a_small_job_of_another_run_is_not_held_back_by_a_huge_one(one_worker: str) -> None:
    url = one_worker
    huge = submit(url, {"rewards": {"code": 1.0}, "items": code_items(60, "h", 0.05), "run": "big-run"})
    small = submit(url, {"rewards": {"code": 1.0}, "items": code_items(2, "s", 0.05), "run": "small-run"})
    finished = arrival(url, {"huge": huge, "small": small})
    assert finished["small"] < finished["huge"] / 5  # they alternate: the small one is done after ~4 units
    assert status(url, huge)["scored"] == 60


def test_a_higher_priority_job_goes_first(one_worker: str) -> None:
    url = one_worker
    evaluation = submit(url, {"rewards": {"code": 1.0}, "items": code_items(60, "e", 0.05), "run": "r"})
    training = submit(
        url, {"rewards": {"code": 1.0}, "items": code_items(3, "t", 0.05), "run": "r", "priority": 10}
    )
    finished = arrival(url, {"evaluation": evaluation, "training": training})
    assert finished["training"] < finished["evaluation"] / 5
    assert status(url, evaluation)["scored"] == 60


def test_client_twins(live_server: str) -> None:
    with RefereeClient(live_server) as referee:
        job_id = referee.submit_job(math_items(), rewards={"math": 1.0}, priority=1)
        while (state := referee.job(job_id))["status"] != "done":
            time.sleep(0.05)
        assert state["scored"] == 9 and state["priority"] == 1

    async def run() -> dict[str, Any]:
        async with AsyncRefereeClient(live_server) as referee:
            job_id = await referee.submit_job(math_items(), rewards={"math": 1.0})
            while (await referee.job(job_id))["status"] != "done":
                await asyncio.sleep(0.05)
            await referee.cancel_job(job_id)  # a finished job stays done
            return await referee.job(job_id)

    assert asyncio.run(run())["status"] == "done"
