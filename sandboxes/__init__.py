"""Run untrusted programs safely. Usable on its own:

from sandboxes import RunRequest, get_sandbox
sandbox = get_sandbox("local")
print(sandbox.run(RunRequest(language="python", source="print(6 * 7)")).stdout)
"""

from __future__ import annotations

from typing import Any

from sandboxes.base import BACKENDS, BackendName, RunRequest, RunResult, Status
from sandboxes.common import Sandbox, SandboxUnavailable
from sandboxes.languages import LANGUAGES


def get_sandbox(name: str = "local", **options: Any) -> Sandbox:
    """Create a backend by name. `docker` needs the `docker` extra and a running daemon."""
    if name == "local":
        from sandboxes.local import LocalSandbox

        return LocalSandbox(**options)
    if name == "docker":
        from sandboxes.docker_backend import DockerSandbox

        return DockerSandbox(**options)
    raise ValueError(f"unknown sandbox backend {name!r}; known: {', '.join(BACKENDS)}")


__all__ = [
    "BACKENDS",
    "LANGUAGES",
    "BackendName",
    "RunRequest",
    "RunResult",
    "Sandbox",
    "SandboxUnavailable",
    "Status",
    "get_sandbox",
]
