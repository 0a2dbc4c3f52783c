"""`POST /get_reward`: OpenRLHF's remote reward-model protocol, scored with a configured profile."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from service.api.dependencies import Scorer, get_scorer
from service.api.errors import APIError
from service.api.schemas import OpenRLHFRequest, OpenRLHFResponse, RewardRequest
from service.items import Item
from service.runtime import metrics

router = APIRouter(tags=["openrlhf"])

# Errors about item fields are reported against the OpenRLHF request's own lists.
_OPENRLHF_FIELDS = {"answer": "labels", "prompt": "prompts", "completion": "query"}


def split_query(query: str, prompt: str | None) -> str:
    """OpenRLHF sends prompt + response as one string; the response is what follows the prompt."""
    if prompt and query.startswith(prompt):
        return query[len(prompt) :]
    return query


@router.post("/get_reward", response_model=OpenRLHFResponse, summary="OpenRLHF remote reward model")
async def get_reward(request: OpenRLHFRequest, scorer: Scorer = Depends(get_scorer)) -> OpenRLHFResponse:
    prompts: list[str | None] = [*request.prompts] if request.prompts else [None] * len(request.query)
    labels = request.labels or [None] * len(request.query)
    items = [
        Item(id=str(i), prompt=prompt, completion=split_query(query, prompt), answer=label)
        for i, (query, prompt, label) in enumerate(zip(request.query, prompts, labels, strict=True))
    ]
    profile = scorer.settings.openrlhf_profile
    with metrics.REQUEST_LATENCY.labels("/get_reward").time():
        try:
            response = await scorer.score(RewardRequest(profile=profile, items=items))
        except APIError as exc:
            for error in exc.errors:
                loc = error["loc"]
                if loc[:2] == ["body", "items"] and len(loc) >= 4:
                    error["loc"] = ["body", _OPENRLHF_FIELDS.get(loc[3], loc[3]), loc[2]]
                elif loc[:2] == ["body", "items"]:
                    error["loc"] = ["body", "query"]
            raise
    rewards = [result.reward for result in response.results]
    components = response.results[0].scores.keys() if response.results else []
    extra_logs = {name: [result.scores[name] or 0.0 for result in response.results] for name in components}
    primary = scorer.settings.openrlhf_score_reward or next(iter(scorer.registry.profiles[profile].weights))
    scores = [result.scores.get(primary) or 0.0 for result in response.results]
    return OpenRLHFResponse(rewards=rewards, scores=scores, extra_logs=extra_logs)
