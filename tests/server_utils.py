"""Start the real service for tests: in a thread (fast) or as a `referee serve` subprocess (whole CLI)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from service.api.app import create_app
from service.rewards.base import Registry
from service.rewards.registry import DEFAULT_REGISTRY
from service.runtime.resources import Resources
from service.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, timeout: float = 120.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode} before it was healthy")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} was not healthy after {timeout} s")


@contextmanager
def serve_asgi(app: Any, port: int | None = None) -> Iterator[str]:
    """Any ASGI app on a real uvicorn on a localhost port, in a thread of this process. Yields the URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(60)


@contextmanager
def running_server(
    resources: Resources | None = None, registry: Registry = DEFAULT_REGISTRY, **settings: Any
) -> Iterator[str]:
    """The Referee app with these settings (and optionally injected resources or its own registry).
    Yields the base URL."""
    port = free_port()
    with serve_asgi(create_app(Settings(port=port, **settings), resources, registry=registry), port) as url:
        yield url


def referee_command(*args: str) -> list[str]:
    """The `referee` CLI of this checkout, run by this interpreter."""
    return [sys.executable, "-m", "service.cli", *args]


@contextmanager
def server_process(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
    port: int | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`referee serve` as a child process (its own process group). Yields (base URL, process)."""
    port = port or free_port()
    command = [*referee_command("serve"), "--port", str(port), "--log-level", "warning", *args]
    environment = {**os.environ, **(env or {})}
    if cwd is not None:  # the checkout stays importable from elsewhere
        environment["PYTHONPATH"] = os.pathsep.join(
            filter(None, [os.getcwd(), environment.get("PYTHONPATH")])
        )
    process = subprocess.Popen(command, env=environment, start_new_session=True, cwd=cwd)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, timeout, process)
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.5) -> bool:
    """Poll `condition` until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def descendants(pid: int) -> list[int]:
    """Every process under `pid` (children, grandchildren, ...), from one `ps` snapshot."""
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
