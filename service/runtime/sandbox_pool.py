"""The service's sandboxes: the configured default backend, others created on first use by name."""

from __future__ import annotations

import threading
from typing import Any

from sandboxes import BACKENDS, Sandbox, SandboxUnavailable, get_sandbox


class SandboxPool:
    def __init__(
        self, default: str, concurrency: int, options: dict[str, dict[str, Any]] | None = None
    ) -> None:
        self.default = default
        self.concurrency = concurrency
        self._options = options or {}
        self._backends: dict[str, Sandbox] = {}
        self._lock = threading.Lock()

    def get(self, name: str | None = None) -> Sandbox:
        """The backend `name` (default: the configured one). Raises `SandboxUnavailable` if it cannot run."""
        name = name or self.default
        if name not in BACKENDS:
            raise ValueError(f"unknown sandbox backend {name!r}; known: {', '.join(BACKENDS)}")
        with self._lock:
            if name not in self._backends:
                try:
                    self._backends[name] = get_sandbox(
                        name, concurrency=self.concurrency, **self._options.get(name, {})
                    )
                except SandboxUnavailable:
                    raise
                except Exception as exc:  # e.g. docker SDK missing or daemon down
                    raise SandboxUnavailable(f"{name} sandbox unavailable: {exc}") from exc
            return self._backends[name]

    def describe(self) -> dict[str, Any]:
        warm = self._options.get("local", {}).get("warm", True)
        peak = "wait4 of the run's own process (ru_maxrss)" if warm or self.default == "local" else None
        isolation = {
            "local": {"memory_limit": "RLIMIT_AS", "syscall_filter": "seccomp-bpf (sandboxes/seccomp.py)"},
            "docker": {
                "memory_limit": "RLIMIT_AS per run, a cgroup limit per container",
                "syscall_filter": "Docker's default seccomp profile",
            },
        }
        return {
            "sandbox_backend": self.default,
            "sandbox_concurrency": self.concurrency,
            "sandbox_warm": warm,
            "sandbox_peak_memory": peak,
            "sandbox_languages": self.languages(),
            **{f"sandbox_{key}": value for key, value in isolation.get(self.default, {}).items()},
        }

    def languages(self) -> list[str]:
        """The languages the default backend can run (the host's toolchains for `local`, the image's for
        `docker`); empty while the backend cannot start."""
        try:
            return sorted(self.get().languages())
        except SandboxUnavailable:
            return []

    def close(self) -> None:
        with self._lock:
            for backend in self._backends.values():
                backend.close()
            self._backends.clear()
