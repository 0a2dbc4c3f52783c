"""The attack suite, against every backend that can run here. Docker is skipped only when no daemon
or image is available, and then loudly."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandboxes import RunRequest, Sandbox, Status
from sandboxes.languages import language
from sandboxes.runner import status_of
from tests.helpers import sandbox_or_skip
from tests.security.attacks import ATTACKS, MARKER, Attack

BACKENDS = ["local", "local-cold", "docker"]


def _stat(pid: str) -> tuple[str, int]:
    """(command name, parent pid) of a process."""
    text = Path(f"/proc/{pid}/stat").read_text()
    name, rest = text.split(" (", 1)[1].rsplit(")", 1)
    return name, int(rest.split()[1])


def _real_uid(pid: str) -> int:
    """From `status`: the /proc directory of a non-dumpable process belongs to root."""
    return int((status_of(pid) or {"Uid": "-1"})["Uid"].split()[0])


def _children(pid: str) -> list[str]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += (task / "children").read_text().split()
    return found


def _warm_sandbox_process(pid: str) -> bool:
    """A warm sandbox idles as bwrap -> runner zygote -> a supervisor waiting for the next session
    (with no child: nothing of a run is left)."""
    name, parent = _stat(pid)
    if name == "bwrap":
        return True
    parent_name, grandparent = _stat(str(parent))
    if parent_name == "bwrap":
        return True
    return _stat(str(grandparent))[0] == "bwrap" and not _children(pid)


def stray_processes() -> list[str]:
    """Host processes started by an attack (their command lines or files carry the marker, or they
    run as a sandbox uid and are not a warm sandbox waiting for work)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            sandbox_uid = 61000 <= _real_uid(entry.name) < 61100
            if MARKER in cmdline or (sandbox_uid and not _warm_sandbox_process(entry.name)):
                found.append(f"{entry.name}: {cmdline[:100]}")
        except (OSError, ValueError, IndexError):
            continue
    return found


@pytest.fixture(scope="module", params=BACKENDS)
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    backend = sandbox_or_skip(request.param)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, live_server: str) -> Iterator[dict[str, str]]:
    home = Path(os.path.expanduser("~"))
    canary = home / f".{MARKER}-canary"
    canary.write_text("service secret")
    os.environ["REFEREE_TEST_SECRET"] = "secret-value"
    port = live_server.rsplit(":", 1)[1]
    yield {"home": str(home), "canary": str(canary), "service_port": port, "service_pid": str(os.getpid())}
    assert canary.read_text() == "service secret"
    canary.unlink()
    os.environ.pop("REFEREE_TEST_SECRET", None)


def fill(text: str, host: dict[str, str]) -> str:
    for key, value in host.items():
        text = text.replace("{" + key + "}", value)
    return text


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack(attack: Attack, sandbox: Sandbox, host: dict[str, str]) -> None:
    if attack.language not in sandbox.languages():
        pytest.skip(f"{attack.language} is not installed for the {sandbox.name} sandbox")
    limits = {"time_limit_s": 5.0, "memory_limit_mb": 256, **attack.limits}
    request = RunRequest(
        language=attack.language, source=fill(attack.source, host), stdin=fill(attack.stdin, host), **limits
    )
    started = time.monotonic()
    result = sandbox.run(request)
    elapsed = time.monotonic() - started
    assert attack.expect(result), (
        f"{attack.name}: {result.status} {result.stdout[-500:]!r} {result.stderr[-500:]!r}"
    )
    if result.status == Status.timeout:
        compiling = language(attack.language).compile is not None
        assert elapsed <= limits["time_limit_s"] + 1.0 + (30 if compiling else 0)
    assert stray_processes() == [], f"{attack.name} left processes behind"


def test_after_the_suite_nothing_survives_and_the_host_is_intact(
    sandbox: Sandbox, host: dict[str, str], live_server: str
) -> None:
    time.sleep(0.5)
    assert stray_processes() == []
    assert not Path(f"/tmp/{MARKER}").exists() and not Path(f"/tmp/{MARKER}-daemon").exists()
    assert not Path(f"/evil-{MARKER}").exists() and not Path("/usr/bin/evil").exists()
    assert subprocess.run(["true"], timeout=10).returncode == 0  # the host can still fork
    normal = sandbox.run(RunRequest(source="print(sum(range(10)))"))
    assert normal.status == Status.ok and normal.stdout == "45\n"
    assert httpx.get(f"{live_server}/healthz", timeout=10).status_code == 200
