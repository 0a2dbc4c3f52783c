"""`format` and `tags`: is the completion laid out as reasoning then answer?"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

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


def _with_prefill(text: str, params: FormatParams) -> str:
    opening = f"<{params.think_tag}>"
    stripped = text.lstrip()
    if params.prefilled_think and not stripped.startswith(opening):
        return opening + stripped
    return stripped


def after_reasoning(text: str, think_tag: str | None) -> str:
    """What follows the last closing reasoning tag (the whole text when there is none)."""
    if think_tag:
        _, closed, after = text.rpartition(f"</{think_tag}>")
        return after if closed else text
    return text


def split_reasoning(text: str, params: FormatParams) -> tuple[str, str] | None:
    """(reasoning, answer) when the completion is exactly reasoning-then-answer, else None."""
    think = re.escape(params.think_tag)
    text = _with_prefill(text, params).rstrip()
    match = re.fullmatch(rf"<{think}>(.*?)</{think}>(.*)", text, re.S)
    if match is None:
        return None
    reasoning, rest = match.group(1), match.group(2).strip()
    if not reasoning.strip() or re.search(rf"</?{think}>", reasoning + rest):
        return None
    if params.answer_tag is not None:
        tag = re.escape(params.answer_tag)
        answer = re.fullmatch(rf"<{tag}>(.*?)</{tag}>", rest, re.S)
        if answer is None or re.search(rf"</?{tag}>", answer.group(1)):
            return None
        rest = answer.group(1).strip()
    return (reasoning.strip(), rest) if rest else None


def format_reward(items: Sequence[Item], params: FormatParams, ctx: RewardContext) -> list[Score]:
    """1.0 if the completion is one reasoning block (`<think>…</think>`) followed by a non-empty answer.

    Nothing may precede the reasoning, tags may not repeat or nest, and with `answer_tag` the answer
    must be exactly one `<answer>…</answer>` block.
    """
    return [Score(float(split_reasoning(item.text, params) is not None)) for item in items]


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
    names = (
        f"<{params.think_tag}>",
        f"</{params.think_tag}>",
        f"<{params.answer_tag}>",
        f"</{params.answer_tag}>",
    )
    scores = []
    for item in items:
        text = item.text
        if params.prefilled_think and names[0] not in text:
            text = names[0] + text
        credit, previous = 0.0, -1
        for tag in names:
            position = text.find(tag)
            if text.count(tag) == 1 and position > previous:
                credit += 0.25
                previous = position
        scores.append(Score(credit))
    return scores
