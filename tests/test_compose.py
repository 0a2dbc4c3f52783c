"""docker-compose.yml for real: build the images offline, bring the stack up, score through the
published port, tear it down. Also the docker-sandbox overlay (sibling containers via the socket)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import skip_loudly
from tests.server_utils import free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[1]
BASE_IMAGE = "referee-base:bookworm"
WHEELHOUSE = ".wheelhouse"

pytestmark = pytest.mark.timeout(900)


def _run(*argv: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(argv)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


@pytest.fixture(scope="module")
def compose_env() -> dict[str, str]:
    """The offline inputs of the images: a debootstrap base and a wheelhouse built by this host's pip."""
    if shutil.which("docker-compose") is None:
        skip_loudly(
            "docker-compose", "the docker-compose command is missing (apt-get install docker-compose)"
        )
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        skip_loudly("docker-compose", "the Docker daemon is not running")
    if subprocess.run(["docker", "image", "inspect", BASE_IMAGE], capture_output=True).returncode != 0:
        _run("sandboxes/docker/build_offline.sh", "--base", BASE_IMAGE, timeout=900)
    shutil.rmtree(ROOT / WHEELHOUSE, ignore_errors=True)
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "-w",
        WHEELHOUSE,
        ".[server,docker]",
        "setuptools>=77",
        "wheel",
    )
    return {**os.environ, "REFEREE_BASE_IMAGE": BASE_IMAGE, "REFEREE_WHEELHOUSE": WHEELHOUSE}


def _stack(env: dict[str, str], *files: str) -> Iterator[str]:
    port = free_port()
    env = {**env, "REFEREE_PUBLISH": f"127.0.0.1:{port}"}
    project = f"referee-test-{os.getpid()}-{len(files)}"
    compose = ["docker-compose", "-p", project, *(arg for f in files for arg in ("-f", f))]
    try:
        _run(*compose, "up", "-d", "--build", env=env)
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, timeout=180)
        yield url
        status = _run(*compose, "ps", env=env).stdout
        assert "Up" in status and "Restarting" not in status, status
    finally:
        logs = subprocess.run(
            [*compose, "logs", "--tail", "30"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        print(logs.stdout[-4000:])
        subprocess.run(
            [*compose, "down", "--volumes", "--timeout", "20"], cwd=ROOT, env=env, capture_output=True
        )


@pytest.fixture(scope="module")
def stack(compose_env: dict[str, str]) -> Iterator[str]:
    yield from _stack(compose_env, "docker-compose.yml")


DOUBLE = "```python\nprint(int(input()) * 2)\n```"


def test_compose_scores_math_format_and_code_through_the_published_port(stack: str) -> None:
    items = [
        {
            "completion": "<think>2+2</think><answer>\\boxed{4}</answer>",
            "answer": "4",
            "tests": [{"input": "1", "output": "2"}],
        },
        {
            "completion": "<think>hm</think><answer>\\boxed{5}</answer>" + DOUBLE,
            "answer": "4",
            "tests": [{"input": "3", "output": "6"}, {"input": "10", "output": "20"}],
        },
    ]
    response = httpx.post(
        f"{stack}/v1/rewards",
        json={"items": items, "rewards": {"math": 1, "format": 1, "code": 1}},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert results[0]["scores"] == {"math": 1.0, "format": 1.0, "code": 0.0}
    assert results[1]["scores"] == {"math": 0.0, "format": 1.0, "code": 1.0}


def test_compose_sandbox_contains_hostile_programs(stack: str) -> None:
    """The container's sandbox (no /proc: Compose cannot unmask it) still isolates the basics."""
    programs = {
        "network": "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=2)\nprint('escaped')",
        "fork_bomb": "import os\nwhile True:\n    os.fork()",
        "host_files": "print(open('/etc/hostname').read())",
        "hang": "while True: pass",
        "kill_parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
        "os.kill(1, signal.SIGKILL)\nprint('alive')",
    }
    runs = [{"source": source, "language": "python", "time_limit_s": 2} for source in programs.values()]
    response = httpx.post(f"{stack}/v1/execute", json={"runs": runs}, timeout=120)
    assert response.status_code == 200, response.text
    results = dict(zip(programs, response.json()["results"], strict=True))
    assert "escaped" not in results["network"]["stdout"] and results["network"]["status"] == "runtime_error"
    assert results["fork_bomb"]["status"] in {"runtime_error", "timeout"}
    assert results["host_files"]["status"] == "runtime_error"
    assert results["hang"]["status"] == "timeout"
    assert httpx.get(f"{stack}/healthz", timeout=10).status_code == 200  # the service survived all of it


def test_compose_docker_sandbox_overlay(compose_env: dict[str, str]) -> None:
    if subprocess.run(
        ["docker", "image", "inspect", "referee-sandbox:latest"], capture_output=True
    ).returncode:
        skip_loudly(
            "docker-compose", "the sandbox image referee-sandbox:latest is missing (make sandbox-image)"
        )
    for url in _stack(compose_env, "docker-compose.yml", "docker-compose.docker-sandbox.yml"):
        run = {"source": "print(sum(range(10)))", "language": "python"}
        response = httpx.post(f"{url}/v1/execute", json={"runs": [run]}, timeout=120)
        assert response.status_code == 200, response.text
        assert response.json()["backend"] == "docker"
        assert response.json()["results"][0]["stdout"] == "45\n"
