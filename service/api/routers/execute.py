"""`POST /v1/execute`: run programs in the sandbox, results in order."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import anyio
from fastapi import APIRouter, Depends

from sandboxes import BACKENDS, SandboxUnavailable
from service.api.dependencies import get_resources, get_settings
from service.api.errors import APIError, check_backend, check_count
from service.api.schemas import ExecuteRequest, ExecuteResponse
from service.runtime import metrics
from service.runtime.resources import Resources
from service.settings import Settings

router = APIRouter(prefix="/v1", tags=["sandbox"])


@router.post("/execute", response_model=ExecuteResponse, summary="Run programs in the sandbox")
async def execute(
    request: ExecuteRequest,
    resources: Resources = Depends(get_resources),
    settings: Settings = Depends(get_settings),
) -> ExecuteResponse:
    """Every program gets a status (`ok`, `runtime_error`, `compile_error`, `timeout`, `memory_limit`,
    `output_limit`, `sandbox_error`); hostile programs never fail the request. A configured backend
    that is down answers 503."""
    programs = request.programs
    check_count(len(programs), settings.max_items, ["body", "runs"], "runs")
    backend = check_backend(request.backend or settings.sandbox_backend, BACKENDS)
    pool = resources.sandboxes
    if pool is None:
        raise APIError.at(
            503, ["body", "backend"], "this server has no sandbox configured", "sandbox_unavailable"
        )
    started = time.perf_counter()

    def run_all() -> list:
        sandbox = pool.get(backend)
        with ThreadPoolExecutor(max_workers=max(1, pool.concurrency)) as executor:
            return list(executor.map(sandbox.run, programs))

    try:
        with metrics.REQUEST_LATENCY.labels("/v1/execute").time():
            results = await anyio.to_thread.run_sync(run_all)
    except SandboxUnavailable as exc:  # down at first use, or e.g. dockerd stopped after the backend started
        raise APIError.at(503, ["body", "backend"], str(exc), "sandbox_unavailable") from None
    for result in results:
        metrics.SANDBOX_RUNS.labels(backend, result.status.value).inc()
    return ExecuteResponse(
        results=results, backend=backend, elapsed_ms=(time.perf_counter() - started) * 1000
    )
