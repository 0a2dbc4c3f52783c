"""`/v1/rewards`: score a batch, and list what can be scored."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import StreamingResponse

from service.api.dependencies import Scorer, get_scorer
from service.api.schemas import (
    ItemResult,
    ProfileInfo,
    RewardCatalog,
    RewardInfo,
    RewardRequest,
    RewardResponse,
    StreamSummary,
)
from service.runtime import metrics

router = APIRouter(prefix="/v1", tags=["rewards"])


def step_number(step: str | None) -> int | None:
    """The `X-Referee-Step` header: a hint for the inspector, so an odd one is ignored, never a 422."""
    return int(step) if step is not None and step.isascii() and step.isdigit() else None


@router.post("/rewards", response_model=RewardResponse, summary="Score a batch of rollouts")
async def post_rewards(
    request: RewardRequest,
    http: Request,
    scorer: Scorer = Depends(get_scorer),
    run: str | None = Header(None, alias="X-Referee-Run"),
    step: str | None = Header(None, alias="X-Referee-Step"),
) -> RewardResponse:
    """Results come back in item order. A score that could not be computed is `null`, with its
    reason in `errors`, and counts as 0 in `reward`; the other items are scored normally. With
    recording on, the batch is also kept for the reward inspector (run and step from the request's
    fields or the `X-Referee-Run` / `X-Referee-Step` headers)."""
    with metrics.REQUEST_LATENCY.labels("/v1/rewards").time():
        response = await scorer.score(request)
    recorder = http.app.state.recorder
    if recorder is not None:
        recorder.offer(request, response, run, step_number(step))
    return response


@router.post(
    "/rewards/stream",
    summary="Score a batch, each result as soon as it exists",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "NDJSON: one `ItemResult` per line as each item is scored (any order, each "
            'with its `id`), then `{"summary": StreamSummary}`.',
            "content": {"application/x-ndjson": {}},
        }
    },
)
async def stream_rewards(
    request: RewardRequest,
    http: Request,
    scorer: Scorer = Depends(get_scorer),
    run: str | None = Header(None, alias="X-Referee-Run"),
    step: str | None = Header(None, alias="X-Referee-Step"),
) -> StreamingResponse:
    """The body of `POST /v1/rewards`; the answer streams. A result is sent when its item is scored
    (a group reward's, such as the Kimi length penalty, when its whole rollout group is), so a slow
    code run no longer holds back every other result. A bad request is a 4xx before anything
    streams."""
    results = scorer.stream(request)
    recorder = http.app.state.recorder

    async def lines() -> AsyncIterator[bytes]:
        async for result in results:
            if isinstance(result, ItemResult):
                yield result.model_dump_json().encode() + b"\n"
                continue
            summary = StreamSummary(
                items=len(result.results),
                elapsed_ms=result.elapsed_ms,
                notes=result.notes,
                null_counts=result.null_counts,
            )
            if recorder is not None:  # before the last line: a client gone by then still gets recorded
                recorder.offer(request, result, run, step_number(step))
            yield json.dumps({"summary": summary.model_dump()}).encode() + b"\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get("/rewards", response_model=RewardCatalog, summary="List rewards, their options and profiles")
def get_rewards(scorer: Scorer = Depends(get_scorer)) -> RewardCatalog:
    """Sync on purpose: FastAPI runs it in a thread, and `describe()` may ask a remote verifier."""
    registry, resources, settings = scorer.registry, scorer.resources, scorer.settings
    infos = []
    for name, reward in registry.rewards.items():
        if settings.only is not None and name not in settings.only:
            continue
        missing = resources.missing(reward.resources)
        infos.append(
            RewardInfo(
                name=name,
                description=reward.description,
                requires=list(reward.requires),
                requires_one_of=list(reward.requires_one_of),
                params=reward.params.model_json_schema(),
                group_reward=reward.group_reward,
                available=not missing,
                unavailable_reason=(reward.unavailable_hint or f"needs {', '.join(missing)}")
                if missing
                else None,
                info=resources.describe(reward.all_resources),
            )
        )
    profiles = {
        name: ProfileInfo(weights=p.weights, params=p.params) for name, p in registry.profiles.items()
    }
    return RewardCatalog(rewards=infos, profiles=profiles)
