"""`/v1/rewards`: score a batch, and list what can be scored."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Request

from service.api.dependencies import Scorer, get_scorer
from service.api.schemas import ProfileInfo, RewardCatalog, RewardInfo, RewardRequest, RewardResponse
from service.runtime import metrics

router = APIRouter(prefix="/v1", tags=["rewards"])


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
    if recorder is not None:  # headers are hints for the inspector: an odd one is ignored, never a 422
        recorder.offer(request, response, run, int(step) if step is not None and step.isdigit() else None)
    return response


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
