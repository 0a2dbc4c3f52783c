"""Shared, long-lived resources that reward functions reach through `ctx.resource(name)`.

Built once at startup and closed at shutdown, so worker processes, sandboxes and models are
warm for every request.
"""

from __future__ import annotations

from typing import Any

from service.settings import Settings


def build_resources(settings: Settings, provided: dict[str, Any] | None = None) -> dict[str, Any]:
    """The resources the served rewards need. `provided` ones are used as they are (the Ray deployment
    passes its reward-model deployment as `verifier`)."""
    from service.rewards.registry import REWARDS

    unknown = sorted(set(settings.only or ()) - set(REWARDS))
    if unknown:
        raise ValueError(f"--only names unknown rewards {', '.join(unknown)}; known: {', '.join(sorted(REWARDS))}")
    resources: dict[str, Any] = dict(provided or {})
    wanted = {r for name in (settings.only or REWARDS) for r in REWARDS[name].resources} - set(resources)
    if "math_pool" in wanted:
        from service.worker_pool import WorkerPool

        resources["math_pool"] = WorkerPool(settings.math_workers, name="math")
    if "sandboxes" in wanted:
        from service.sandbox_pool import SandboxPool

        resources["sandboxes"] = SandboxPool(settings.sandbox_backend, settings.sandbox_concurrency,
                                             {"docker": {"image": settings.sandbox_image}})
    if "verifier" in wanted and settings.rm_remote_url:
        from service.reward_model import RemoteVerifier

        resources["verifier"] = RemoteVerifier(settings.rm_remote_url, settings.api_key)
    elif "verifier" in wanted and settings.rm_model:
        from service.reward_model import build_verifier

        resources["verifier"] = build_verifier(settings)
    unservable = [name for name in settings.only or () if set(REWARDS[name].resources) - set(resources)]
    if unservable:  # a server that answers nothing useful should not start (and pass its health check)
        hints = "; ".join(f"{name}: {REWARDS[name].unavailable_hint or 'missing resources'}" for name in unservable)
        close_resources(resources)
        raise ValueError(f"--only serves rewards that cannot run here: {hints}")
    return resources


def close_resources(resources: dict[str, Any]) -> None:
    for resource in resources.values():
        close = getattr(resource, "close", None)
        if close is not None:
            close()
