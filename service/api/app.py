"""The FastAPI application: `create_app()` wires settings, resources, routers and error handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
from fastapi import Depends, FastAPI

from service import __version__
from service.api.body_limit import BodySizeLimit
from service.api.dependencies import require_api_key
from service.api.errors import install_error_handlers
from service.api.routers import execute, graders, health, inspector, jobs, openrlhf, rewards, select, tools
from service.rewards.base import Registry
from service.rewards.registry import DEFAULT_REGISTRY
from service.runtime.resources import Resources, build_resources
from service.settings import Settings

if TYPE_CHECKING:
    from service.inspector.recorder import Recorder

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
        if settings.record is not None:
            app.state.recorder = await anyio.to_thread.run_sync(start_recorder, settings)
            app.state.inspector_store = app.state.recorder.store
        try:
            yield
        finally:
            if app.state.jobs is not None:
                await app.state.jobs.close()
                app.state.jobs = None
            if app.state.recorder is not None:
                await anyio.to_thread.run_sync(app.state.recorder.close)
            if owned:
                await anyio.to_thread.run_sync(app.state.resources.close)

    app = FastAPI(title="Referee", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.resources = resources if resources is not None else Resources()
    app.state.registry = registry
    app.state.recorder = None
    app.state.inspector_store = None  # `referee inspect` sets one without a recorder
    app.state.jobs = None  # made at the first job (service.api.routers.jobs)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)

    protected = [Depends(require_api_key)]
    app.include_router(health.router)
    app.include_router(jobs.router, dependencies=protected)  # before /v1/rewards: its paths are longer
    app.include_router(rewards.router, dependencies=protected)
    app.include_router(execute.router, dependencies=protected)
    app.include_router(openrlhf.router, dependencies=protected)
    app.include_router(graders.router, dependencies=protected)
    app.include_router(tools.router, dependencies=protected)
    app.include_router(select.router, dependencies=protected)
    app.include_router(inspector.router)  # its own key check: a cookie set by the page's login
    return app


def start_recorder(settings: Settings) -> Recorder:
    """Open (and migrate) the store the settings name, and start writing to it."""
    from service.inspector.recorder import Recorder, RecordOptions
    from service.inspector.store import Store

    store = Store(settings.record or "")
    migrated = True
    try:
        store.migrate()
    except Exception as exc:  # the database is down: serve anyway, drop records until it is back
        migrated = False
        log.error("cannot reach the inspector's store (%s); records are dropped until it is back", exc)
    log.info("recording scored batches to %s (the reward inspector: /ui)", store.engine.url)
    options = RecordOptions(
        sample=settings.record_sample,
        max_rows=settings.record_max_rows,
        max_age_s=settings.record_max_age,
        text_chars=settings.record_text_chars,
    )
    return Recorder(store, options, migrated=migrated)
