"""`GET /v1/tools` and `POST /v1/tools/call`: tools for a trainer's multi-turn rollouts."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import anyio
from fastapi import APIRouter, Depends

from sandboxes import BACKENDS
from service.api.dependencies import get_resources, get_settings
from service.api.errors import check_backend, check_count
from service.api.schemas import ToolCallRequest, ToolCallResponse, ToolMessage
from service.grading.trajectory.turns import ToolCall, calls_in, structured_call
from service.runtime import metrics
from service.runtime.resources import Resources
from service.runtime.tools import TOOLS, run_call
from service.settings import Settings

router = APIRouter(prefix="/v1", tags=["tools"])


def call_id(entry: object) -> str | None:
    return str(entry["id"]) if isinstance(entry, dict) and entry.get("id") is not None else None


@router.get("/tools", summary="The tools Referee runs, as OpenAI function definitions")
async def list_tools() -> list[dict]:
    """Put this list in a prompt's `tools` (and an item's `tools` for `tool_call_validity`)."""
    return TOOLS


@router.post("/tools/call", response_model=ToolCallResponse, summary="Run tool calls")
async def call_tools(
    request: ToolCallRequest,
    resources: Resources = Depends(get_resources),
    settings: Settings = Depends(get_settings),
) -> ToolCallResponse:
    """One `tool` message per call, in order. A malformed call, an unknown tool or arguments that do
    not match the tool's schema get an `error: ...` message, not an HTTP error: the policy reads it."""
    if request.message is not None:
        calls = calls_in(request.message, 0, request.format)
        structured = request.message.tool_calls or []
        ids: list[str | None] = [call_id(entry) for entry in structured][: len(calls)]
        ids += [None] * (len(calls) - len(ids))  # `<tool_call>` blocks in the text carry no id
    else:
        entries = request.tool_calls or []
        calls = [structured_call(entry, 0) for entry in entries]
        ids = [call_id(entry) for entry in entries]
    check_count(len(calls), settings.max_items, ["body", "tool_calls"], "calls")
    backend = check_backend(request.backend or settings.sandbox_backend, BACKENDS)
    pool = resources.sandboxes
    sandbox = partial(pool.get, backend) if pool is not None else None
    started = time.perf_counter()

    def run(call: ToolCall) -> str:
        return run_call(call, sandbox, request.time_limit_s, request.memory_limit_mb)

    def run_all() -> list[str]:
        workers = max(1, pool.concurrency if pool is not None else 1)
        with ThreadPoolExecutor(max_workers=workers) as executor:
            return list(executor.map(run, calls))

    with metrics.REQUEST_LATENCY.labels("/v1/tools/call").time():
        contents = await anyio.to_thread.run_sync(run_all)
    return ToolCallResponse(
        messages=[
            ToolMessage(tool_call_id=call_id, name=call.name, content=content)
            for call, call_id, content in zip(calls, ids, contents, strict=True)
        ],
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )
