"""Liveness and Prometheus metrics."""

from __future__ import annotations

import os

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from service import __version__
from service.api.dependencies import require_api_key
from service.api.schemas import Health

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="Liveness (never needs the API key)")
async def healthz() -> Health:
    return Health(status="ok", version=__version__)


@router.get(
    "/metrics", summary="Prometheus metrics", dependencies=[Depends(require_api_key)], response_class=Response
)
async def prometheus_metrics() -> Response:
    registry = None
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # With several uvicorn workers each process writes its own files; merge them here.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    data = generate_latest(registry) if registry is not None else generate_latest()
    return Response(data, media_type=CONTENT_TYPE_LATEST)
