"""Shared, long-lived resources that reward functions reach through `ctx.resource(name)`.

Built once at startup and closed at shutdown, so worker processes, sandboxes and models are
warm for every request.
"""

from __future__ import annotations

from typing import Any

from service.settings import Settings


def build_resources(settings: Settings) -> dict[str, Any]:
    from service.sandbox_pool import SandboxPool
    from service.worker_pool import WorkerPool

    resources: dict[str, Any] = {
        "math_pool": WorkerPool(settings.math_workers, name="math"),
        "sandboxes": SandboxPool(settings.sandbox_backend, settings.sandbox_concurrency,
                                 {"docker": {"image": settings.sandbox_image}}),
    }
    if settings.rm_model:
        from service.reward_model import build_verifier

        resources["verifier"] = build_verifier(settings)
    return resources


def close_resources(resources: dict[str, Any]) -> None:
    for resource in resources.values():
        close = getattr(resource, "close", None)
        if close is not None:
            close()
