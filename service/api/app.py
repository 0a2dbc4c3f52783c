"""The FastAPI application: `create_app()` wires settings, resources, routers and error handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import Depends, FastAPI

from service import __version__
from service.api.body_limit import BodySizeLimit
from service.api.dependencies import require_api_key
from service.api.errors import install_error_handlers
from service.api.routers import execute, graders, health, openrlhf, rewards, tools
from service.rewards.base import Registry
from service.rewards.registry import DEFAULT_REGISTRY
from service.runtime.resources import Resources, build_resources
from service.settings import Settings

log = logging.getLogger("referee")

DESCRIPTION = """Verifiable rewards for RL on language models: POST a batch of rollouts to
`/v1/rewards`, get one weighted reward per item plus every component score. See `GET /v1/rewards`
for the rewards, their options and the profiles."""


def check_openrlhf_settings(settings: Settings, registry: Registry) -> None:
    """`/get_reward` scores with `openrlhf_profile` and returns `openrlhf_score_reward` as `scores`:
    a name that is not there would silently zero OpenRLHF's filtering, so refuse to start instead."""
    profile = registry.profiles.get(settings.openrlhf_profile)
    if profile is None:
        raise ValueError(
            f"openrlhf_profile {settings.openrlhf_profile!r} is not a profile; known: "
            f"{', '.join(sorted(registry.profiles))}"
        )
    if settings.openrlhf_score_reward is not None and settings.openrlhf_score_reward not in profile.weights:
        raise ValueError(
            f"openrlhf_score_reward {settings.openrlhf_score_reward!r} is not a reward of profile "
            f"{settings.openrlhf_profile!r} ({', '.join(profile.weights)})"
        )


def create_app(
    settings: Settings | None = None,
    resources: Resources | None = None,
    *,
    provided: Resources | None = None,
    registry: Registry = DEFAULT_REGISTRY,
) -> FastAPI:
    """Build the app. `resources` can be injected whole (tests); otherwise they are built at startup,
    except the `provided` ones (Ray passes its reward-model deployment as the `verifier`). Tests pass
    their own `registry` of rewards and profiles."""
    settings = settings or Settings()
    check_openrlhf_settings(settings, registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = resources is None
        app.state.resources = (
            await anyio.to_thread.run_sync(build_resources, settings, registry.rewards, provided)
            if owned
            else resources
        )
        log.info(
            "referee %s ready with resources: %s",
            __version__,
            ", ".join(app.state.resources.present()) or "none",
        )
        try:
            yield
        finally:
            if owned:
                await anyio.to_thread.run_sync(app.state.resources.close)

    app = FastAPI(title="Referee", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.resources = resources if resources is not None else Resources()
    app.state.registry = registry
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)

    protected = [Depends(require_api_key)]
    app.include_router(health.router)
    app.include_router(rewards.router, dependencies=protected)
    app.include_router(execute.router, dependencies=protected)
    app.include_router(openrlhf.router, dependencies=protected)
    app.include_router(graders.router, dependencies=protected)
    app.include_router(tools.router, dependencies=protected)
    return app
