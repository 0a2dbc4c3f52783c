"""`cot_rm`: a generative verifier model judges the response against the reference answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rm_models.verdicts import Judgement
from service.grading.errors import ErrorKind, ScoreError
from service.grading.math.extraction import final_answer
from service.items import Item
from service.rewards.base import RewardContext, Score
from service.runtime.resources import required


class CotRmParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    response: Literal["full", "final_answer"] = Field(
        "full",
        description="What the verifier reads: the whole completion, or only its final answer "
        "(last \\boxed{}, <answer> tag, 'the answer is', last number).",
    )


def cot_rm_reward(items: Sequence[Item], params: CotRmParams, ctx: RewardContext) -> list[Score]:
    """The reward model's verdict (1.0 correct, 0.0 not; a probability in logprob mode) on the item's
    `prompt`, `answer` (the reference) and completion. Unreadable verdicts are null with the reason."""
    judgements = []
    for item in items:
        response = item.text
        if params.response == "final_answer":
            response = final_answer(response) or response
        judgements.append(Judgement(item.prompt_text, item.golds[0], response))
    verdicts = required(ctx.resources.verifier, "verifier").score(judgements)
    return [
        Score(v.score, ScoreError(ErrorKind.model_error, v.error) if v.error else None)
        if v.score is not None
        else Score.fail(ErrorKind(v.kind) if v.kind else ErrorKind.model_error, v.error or "no verdict")
        for v in verdicts
    ]
