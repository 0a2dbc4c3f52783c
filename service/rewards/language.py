"""`language`: DeepSeek-R1's language-consistency reward for the chain of thought."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from service.grading.language import detect_language, target_share
from service.grading.reasoning import split_reasoning
from service.items import Item, assistant_texts
from service.rewards.base import RewardContext, Score


class LanguageParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    think_tag: str = Field("think", description="Only the text inside this tag is scored, when present.")
    default_language: str = Field(
        "en",
        description="Target when the item has no `target_language` and the prompt's language cannot be told.",
    )
    min_confidence: float = Field(
        0.8,
        ge=0,
        le=1,
        description="A same-script sentence counts as foreign "
        "only when the identifier is at least this sure.",
    )


def reasoning_of(text: str, think_tag: str) -> str:
    parts = split_reasoning(text, think_tag)
    return parts[0] if parts else text


def language_reward(items: Sequence[Item], params: LanguageParams, ctx: RewardContext) -> list[Score]:
    """Proportion of the reasoning's words in the target language (item `target_language`, else the prompt's).

    Reasoning is the text inside the think tag if present, else the whole completion. Other scripts
    count as foreign by character class; same-script languages per sentence with py3langid. Code,
    formulas and numbers are not words. No words at all scores 1.0 (nothing inconsistent).
    """
    scores = []
    for item in items:
        # every assistant turn of a trajectory: consistency is about all of them
        reasoning = "\n".join(
            reasoning_of(text, params.think_tag) for text in assistant_texts(item.completion)
        )
        target = item.get("target_language") or detect_language(
            item.prompt_text, params.default_language, params.min_confidence
        )
        share = target_share(reasoning, str(target), params.min_confidence)
        scores.append(Score(1.0 if share is None else share))
    return scores
