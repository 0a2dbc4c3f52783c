"""`referee serve --ray` on a local single-node Ray cluster with two API replicas: the same answers as
the plain server, and a replica killed under load is replaced while client retries finish its
requests."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from clients import RefereeClient
from tests.server_utils import server_process, wait_for

pytest.importorskip("ray.serve")
pytestmark = pytest.mark.timeout(600)

REPLICA = "ServeReplica:referee:RefereeAPI"
SLOW_CODE = {
    "completion": "It doubles: \\boxed{6}\n```python\nimport time\ntime.sleep(0.4)\n"
    "print(int(input()) * 2)\n```",
    "tests": [{"input": "3", "output": "6"}],
    "answer": "6",
}


def pids_of(pattern: str) -> list[int]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found]


@pytest.fixture(scope="module")
def ray_url() -> Iterator[str]:
    with server_process("--ray", "--replicas", "2", "--replica-cpus", "1", timeout=300) as (url, process):
        yield url
    assert process.returncode is not None
    assert wait_for(lambda: not pids_of("ray::|gcs_server|raylet"), 60), "Ray processes outlived the server"


BATCH = [
    {
        "completion": "<think>2+2</think><answer>\\boxed{4}</answer>",
        "answer": "4",
        "tests": [{"input": "1", "output": "2"}],
    },
    {
        "completion": "<think>x</think><answer>\\boxed{\\frac{1}{2}}</answer>",
        "answer": "0.5",
        "tests": [{"input": "1", "output": "2"}],
    },
    {
        "completion": "no tags, \\boxed{7}" + "\n```python\nprint(int(input()) * 2)\n```",
        "answer": "8",
        "tests": [{"input": "1", "output": "2"}, {"input": "21", "output": "42"}],
    },
    {
        "completion": "```python\nwhile True: pass\n```",
        "answer": "1",
        "tests": [{"input": "", "output": "1"}],
    },
]


def test_same_results_as_the_plain_server(ray_url: str, live_server: str) -> None:
    body = {
        "items": BATCH,
        "rewards": {"math": 1.0, "format": 0.5, "code": 1.0},
        "params": {"code": {"time_limit_s": 1}},
    }
    on_ray = httpx.post(f"{ray_url}/v1/rewards", json=body, timeout=120)
    plain = httpx.post(f"{live_server}/v1/rewards", json=body, timeout=120)
    assert on_ray.status_code == plain.status_code == 200, on_ray.text
    assert on_ray.json()["results"] == plain.json()["results"]
    assert [r["scores"]["code"] for r in on_ray.json()["results"]] == [0.0, 0.0, 1.0, 0.0]

    catalog = httpx.get(f"{ray_url}/v1/rewards", timeout=60).json()
    assert {r["name"] for r in catalog["rewards"]} == {
        r["name"] for r in httpx.get(f"{live_server}/v1/rewards").json()["rewards"]
    }
    bad = httpx.post(
        f"{ray_url}/v1/rewards", json={"items": [{"completion": 3}], "rewards": {"math": 1}}, timeout=60
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][:3] == ["body", "items", 0]


class CountingTransport(httpx.HTTPTransport):
    """Counts the answers a client had to retry (Ray's bare 500s, refused connections)."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = super().handle_request(request)
        except httpx.TransportError:
            self.failures += 1
            raise
        if response.status_code >= 500:
            self.failures += 1
        return response


def test_a_killed_replica_is_replaced_and_retries_complete_its_requests(ray_url: str) -> None:
    replicas = pids_of(REPLICA)
    assert len(replicas) == 2, replicas
    transports = [CountingTransport() for _ in range(4)]
    scores: list[dict] = []
    errors: list[Exception] = []
    stop = threading.Event()

    def trainer(transport: CountingTransport) -> None:
        with RefereeClient(
            ray_url, transport=transport, max_retries=10, backoff_s=0.3, timeout=120
        ) as client:
            while not stop.is_set():
                try:
                    scores.extend(
                        r.scores
                        for r in client.score([SLOW_CODE] * 2, rewards={"code": 1, "math": 1}).results
                    )
                except Exception as exc:  # any failure that retries could not absorb fails the test
                    errors.append(exc)

    threads = [threading.Thread(target=trainer, args=(t,)) for t in transports]
    for thread in threads:
        thread.start()
    time.sleep(3)  # both replicas busy, with requests queued on each
    os.kill(replicas[0], signal.SIGKILL)
    assert wait_for(lambda: len(pids_of(REPLICA)) == 2 and replicas[0] not in pids_of(REPLICA), 120), (
        "the killed replica was not replaced"
    )
    time.sleep(3)  # traffic reaches the new replica too
    stop.set()
    for thread in threads:
        thread.join(180)

    assert not errors, errors
    assert scores and all(s == {"code": 1.0, "math": 1.0} for s in scores), scores
    assert sum(t.failures for t in transports) >= 1, "no request was in flight on the killed replica"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--replicas", "3-1"), "MIN <= MAX"),
        (("--replicas", "two"), "N or MIN-MAX"),
        (("--detach",), "--detach needs --address"),
    ],
)
def test_bad_ray_options_are_clear_errors(args: tuple[str, ...], message: str) -> None:
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "serve", "--ray", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and message in result.stderr, result.stderr
