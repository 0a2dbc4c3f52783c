"""The FastAPI application: `create_app()` wires settings, resources, routers and error handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import Depends, FastAPI

from service import __version__
from service.body_limit import BodySizeLimit
from service.dependencies import require_api_key
from service.errors import install_error_handlers
from service.resources import build_resources, close_resources
from service.routers import execute, health, openrlhf, rewards
from service.settings import Settings

log = logging.getLogger("referee")

DESCRIPTION = """Verifiable rewards for RL on language models: POST a batch of rollouts to
`/v1/rewards`, get one weighted reward per item plus every component score. See `GET /v1/rewards`
for the rewards, their options and the profiles."""


def create_app(settings: Settings | None = None, resources: dict[str, Any] | None = None, *,
               provided: dict[str, Any] | None = None) -> FastAPI:
    """Build the app. `resources` can be injected whole (tests); otherwise they are built at startup,
    except the `provided` ones (Ray passes its reward-model deployment as the `verifier`)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = resources is None
        app.state.resources = (await anyio.to_thread.run_sync(build_resources, settings, provided) if owned
                               else resources)
        log.info("referee %s ready with resources: %s", __version__, ", ".join(app.state.resources) or "none")
        try:
            yield
        finally:
            if owned:
                await anyio.to_thread.run_sync(close_resources, app.state.resources)

    app = FastAPI(title="Referee", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.resources = resources if resources is not None else {}
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)

    protected = [Depends(require_api_key)]
    app.include_router(health.router)
    app.include_router(rewards.router, dependencies=protected)
    app.include_router(execute.router, dependencies=protected)
    app.include_router(openrlhf.router, dependencies=protected)
    return app
