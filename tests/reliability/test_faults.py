"""Faults: a client that disconnects mid-request, SIGTERM with requests in flight, dockerd stopped
under a server whose default backend is docker. (A math worker
SIGKILLed mid-batch and a hanging program are in test_math_reward.py and test_code_reward.py.)"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import skip_loudly
from tests.server_utils import descendants, server_process, wait_for

SLOW_ITEM = {
    "completion": "```python\nimport time\ntime.sleep(2)\nprint(input())\n```",
    "tests": [{"input": "ok", "output": "ok"}],
}


def alive(pid: int) -> bool:
    """Running, not just a zombie: when an earlier test made this pytest process a child subreaper
    (the local sandbox does), a dead server's orphans are re-parented here and wait to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_a_client_that_disconnects_mid_request_does_not_hurt_the_service() -> None:
    with server_process() as (url, _):
        port = int(url.rsplit(":", 1)[1])
        body = httpx.Request(
            "POST", f"{url}/v1/rewards", json={"rewards": {"code": 1.0}, "items": [SLOW_ITEM] * 2}
        )
        raw = (
            f"POST /v1/rewards HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body.content)}\r\n\r\n"
        ).encode() + body.content
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(raw)
                time.sleep(0.3)  # the request is being scored; hang up
        half = raw[: len(raw) // 2]
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(half)  # and one that never finishes its body
        response = httpx.post(
            f"{url}/v1/rewards",
            json={"rewards": {"format": 1.0}, "items": [{"completion": "<think>a</think>b"}]},
            timeout=60,
        )
        assert response.status_code == 200 and response.json()["results"][0]["reward"] == 1.0
        slow = httpx.post(
            f"{url}/v1/rewards", json={"rewards": {"code": 1.0}, "items": [SLOW_ITEM]}, timeout=60
        )
        assert slow.json()["results"][0]["scores"]["code"] == 1.0


def test_sigterm_finishes_in_flight_requests_refuses_new_ones_and_leaves_nothing() -> None:
    with server_process(env={"REFEREE_SHUTDOWN_GRACE_S": "30"}) as (url, process):
        workers = descendants(process.pid)
        assert workers, "the server should have started worker processes"
        results: dict[str, object] = {}

        def in_flight() -> None:
            results["response"] = httpx.post(
                f"{url}/v1/rewards", json={"rewards": {"code": 1.0}, "items": [SLOW_ITEM] * 2}, timeout=60
            )

        thread = threading.Thread(target=in_flight)
        thread.start()
        time.sleep(0.7)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        refused = False
        try:
            httpx.post(f"{url}/v1/rewards", json={"rewards": {"format": 1.0}, "items": []}, timeout=5)
        except httpx.HTTPError:
            refused = True
        thread.join(60)
        process.wait(35)
        response = results["response"]
        assert response.status_code == 200
        assert [r["scores"]["code"] for r in response.json()["results"]] == [1.0, 1.0]
        assert refused, "a new request was accepted after SIGTERM"
        assert process.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM after a clean shutdown
        deadline = time.monotonic() + 10  # the fork server and resource tracker exit when they see EOF
        while time.monotonic() < deadline and any(alive(pid) for pid in workers):
            time.sleep(0.1)
        leftovers = {pid: Path(f"/proc/{pid}/cmdline").read_text() for pid in workers if alive(pid)}
        assert leftovers == {}


def _docker_up() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


def _sandbox_containers(status: str | None = None) -> list[str]:
    filters = ["--filter", "label=referee.sandbox", *(["--filter", f"status={status}"] if status else [])]
    return subprocess.run(["docker", "ps", "-aq", *filters], capture_output=True, text=True).stdout.split()


def _dockerd_running() -> bool:
    return subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True).returncode == 0


TESTS = [{"input": "1", "output": "2"}]
CODE_ITEM = {"completion": "```python\nprint(int(input()) + 1)\n```", "tests": TESTS, "answer": "2"}
MATH_ITEM = {"completion": "\\boxed{2}", "answer": "2", "tests": TESTS}


@pytest.mark.timeout(300)
@pytest.mark.skipif(
    os.environ.get("REFEREE_TEST_STOP_DOCKERD") != "1",
    reason="stops and restarts the host's dockerd: set REFEREE_TEST_STOP_DOCKERD=1 (CI does)",
)
def test_dockerd_stopped_gives_503_for_docker_runs_and_leaves_local_runs_alone() -> None:
    if shutil.which("dockerd") is None or not _docker_up():
        skip_loudly("the dockerd fault", "no running dockerd")
    others = set(_sandbox_containers())  # e.g. the session server's, if a test gave it docker runs
    with server_process(env={"REFEREE_SANDBOX_BACKEND": "docker", "REFEREE_SANDBOX_CONCURRENCY": "2"}) as (
        url,
        _,
    ):
        docker_run = {"run": {"source": "print(6 * 7)"}, "backend": "docker"}
        local_run = {"run": {"source": "print(6 * 7)"}, "backend": "local"}
        assert (
            httpx.post(f"{url}/v1/execute", json=docker_run, timeout=120).json()["results"][0]["stdout"]
            == "42\n"
        )

        subprocess.run(["pkill", "-TERM", "-x", "dockerd"], check=True)
        try:
            assert wait_for(lambda: not _dockerd_running(), 60), "dockerd did not stop"
            refused = httpx.post(f"{url}/v1/execute", json=docker_run, timeout=120)
            assert refused.status_code == 503, refused.text
            error = refused.json()["detail"][0]
            assert error["loc"] == ["body", "backend"] and "docker daemon unavailable" in error["msg"]

            assert (
                httpx.post(f"{url}/v1/execute", json=local_run, timeout=60).json()["results"][0]["stdout"]
                == "42\n"
            )
            body = {"items": [CODE_ITEM, MATH_ITEM], "rewards": {"code": 1, "math": 1}}
            scored = httpx.post(f"{url}/v1/rewards", json=body, timeout=120)
            assert scored.status_code == 200, scored.text
            results = scored.json()["results"]
            assert (
                results[0]["scores"]["code"] is None
                and "docker daemon unavailable" in results[0]["errors"]["code"]
            )
            assert results[1]["scores"] == {
                "code": 0.0,
                "math": 1.0,
            }  # the rest of the batch is scored normally
            local = {**body, "params": {"code": {"backend": "local"}}}
            assert (
                httpx.post(f"{url}/v1/rewards", json=local, timeout=120).json()["results"][0]["scores"][
                    "code"
                ]
                == 1.0
            )
        finally:
            wait_for(lambda: not _dockerd_running(), 60)
            if not _dockerd_running():
                with open("/var/log/referee-dockerd.log", "ab") as log:
                    subprocess.Popen(
                        ["dockerd"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                    )
            assert wait_for(_docker_up, 90), "dockerd did not come back"
        # The daemon is back: the same server runs docker programs again, in fresh containers.
        assert (
            httpx.post(f"{url}/v1/execute", json=docker_run, timeout=120).json()["results"][0]["stdout"]
            == "42\n"
        )
        assert not set(_sandbox_containers("exited")) - others, (
            "containers stopped with the daemon were left behind"
        )
