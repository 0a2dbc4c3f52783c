"""`format` and `tags`: is the completion laid out as reasoning then answer?"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from service.grading.reasoning import split_reasoning, tag_credit
from service.items import Item
from service.rewards.base import RewardContext, Score


class FormatParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    think_tag: str = Field("think", pattern=r"^[A-Za-z_][\w\-]*$", description="Reasoning tag name.")
    answer_tag: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][\w\-]*$",
        description="Answer tag name (`answer` for the R1-Zero template); `null`: any non-empty text after "
        "the reasoning is the answer (R1 and most reasoning models).",
    )
    prefilled_think: bool = Field(
        False,
        description="The chat template already put the opening reasoning tag into the prompt, so the "
        "completion starts inside the reasoning.",
    )


def format_reward(items: Sequence[Item], params: FormatParams, ctx: RewardContext) -> list[Score]:
    """1.0 if the completion is one reasoning block (`<think>…</think>`) followed by a non-empty answer.

    Nothing may precede the reasoning, tags may not repeat or nest, and with `answer_tag` the answer
    must be exactly one `<answer>…</answer>` block.
    """
    return [
        Score(
            float(
                split_reasoning(item.text, params.think_tag, params.answer_tag, params.prefilled_think)
                is not None
            )
        )
        for item in items
    ]


class TagsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    think_tag: str = Field("think", pattern=r"^[A-Za-z_][\w\-]*$")
    answer_tag: str = Field("answer", pattern=r"^[A-Za-z_][\w\-]*$")
    prefilled_think: bool = False


def tags_reward(items: Sequence[Item], params: TagsParams, ctx: RewardContext) -> list[Score]:
    """Partial format credit: 0.25 for each of the four tags that appears exactly once, in order.

    A tag counts when it occurs once and after the tag before it (opening reasoning, closing
    reasoning, opening answer, closing answer), so a model gets a gradient toward the full format.
    """
    return [
        Score(tag_credit(item.text, params.think_tag, params.answer_tag, params.prefilled_think))
        for item in items
    ]
