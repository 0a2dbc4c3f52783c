"""Faults: a client that disconnects mid-request, SIGTERM with requests in flight. (A math worker
SIGKILLed mid-batch and a hanging program are in test_math_reward.py and test_code_reward.py.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx

from tests.server_utils import server_process

SLOW_ITEM = {"completion": "```python\nimport time\ntime.sleep(2)\nprint(input())\n```",
             "tests": [{"input": "ok", "output": "ok"}]}


def descendants(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout.split()
    children: dict[int, list[int]] = {}
    for child, parent in zip(out[::2], out[1::2], strict=True):
        children.setdefault(int(parent), []).append(int(child))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_client_that_disconnects_mid_request_does_not_hurt_the_service() -> None:
    with server_process() as (url, _):
        port = int(url.rsplit(":", 1)[1])
        body = httpx.Request("POST", f"{url}/v1/rewards", json={"rewards": {"code": 1.0}, "items": [SLOW_ITEM] * 2})
        raw = (f"POST /v1/rewards HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body.content)}\r\n\r\n").encode() + body.content
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(raw)
                time.sleep(0.3)  # the request is being scored; hang up
        half = raw[: len(raw) // 2]
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(half)  # and one that never finishes its body
        response = httpx.post(f"{url}/v1/rewards", json={"rewards": {"format": 1.0},
                                                        "items": [{"completion": "<think>a</think>b"}]}, timeout=60)
        assert response.status_code == 200 and response.json()["results"][0]["reward"] == 1.0
        slow = httpx.post(f"{url}/v1/rewards", json={"rewards": {"code": 1.0}, "items": [SLOW_ITEM]}, timeout=60)
        assert slow.json()["results"][0]["scores"]["code"] == 1.0


def test_sigterm_finishes_in_flight_requests_refuses_new_ones_and_leaves_nothing() -> None:
    with server_process(env={"REFEREE_SHUTDOWN_GRACE_S": "30"}) as (url, process):
        workers = descendants(process.pid)
        assert workers, "the server should have started worker processes"
        results: dict[str, object] = {}

        def in_flight() -> None:
            results["response"] = httpx.post(f"{url}/v1/rewards", json={"rewards": {"code": 1.0},
                                                                        "items": [SLOW_ITEM] * 2}, timeout=60)

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
