"""Run untrusted programs safely. Usable on its own: `from sandboxes import RunRequest, get_sandbox`."""

from sandboxes.base import RunRequest, RunResult, Sandbox, Status

__all__ = ["RunRequest", "RunResult", "Sandbox", "Status"]
