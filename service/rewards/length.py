"""`length` (Kimi k1.5 length penalty, per rollout group) and `overlong` (DAPO soft overlong punishment).

Both measure completions the same way: `completion_tokens` when every item has it, else a
tokenizer named in params, else characters (with a note in the response, since characters are a
poor proxy for the token budget the penalty is about).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.grading.errors import ErrorKind, GradingError
from service.grading.lengths import measure_lengths
from service.items import Item, group_indices
from service.rewards.base import RewardContext, Score


class LengthSource(BaseModel):
    tokenizer: str | None = Field(
        None,
        description="Local path or name of a Hugging Face tokenizer, used when items lack "
        "`completion_tokens` (needs the `rm` or `train` extra).",
    )


def completion_lengths(
    items: Sequence[Item], source: LengthSource, ctx: RewardContext, reward: str
) -> list[int]:
    """Length of each completion. Raises `GradingError` when they cannot be measured."""
    texts, tokens = [item.text for item in items], [item.completion_tokens for item in items]
    lengths, unit = measure_lengths(texts, tokens, source.tokenizer)
    if unit == "characters":
        ctx.notes.append(
            f"{reward}: lengths measured in characters (items lack completion_tokens and no "
            "tokenizer param was given)"
        )
    return lengths


class LengthParams(LengthSource):
    model_config = ConfigDict(extra="forbid")

    correct_from: str = Field("math", description="Reward whose score says whether a completion is correct.")
    correct_threshold: float = Field(
        1.0, description="A completion is correct when that score is at least this."
    )


def length_reward(items: Sequence[Item], params: LengthParams, ctx: RewardContext) -> list[Score]:
    """Kimi k1.5 length penalty within each rollout group: λ = 0.5 − (len − min)/(max − min).

    Correct completions get λ, wrong ones min(0, λ); a group whose lengths are all equal gets 0.
    Correctness is read from the `correct_from` reward, computed first.
    """
    try:
        lengths = completion_lengths(items, params, ctx, "length")
    except GradingError as exc:
        return [Score(None, exc.error)] * len(items)
    correctness = ctx.scores[params.correct_from]
    scores: list[Score] = [Score(0.0)] * len(items)
    for indices in group_indices(items).values():
        shortest, longest = min(lengths[i] for i in indices), max(lengths[i] for i in indices)
        for i in indices:
            if correctness[i].value is None:
                scores[i] = Score.fail(
                    ErrorKind.dependency_failed,
                    f"correctness unknown ({params.correct_from}: {correctness[i].error})",
                )
                continue
            if longest == shortest:
                continue
            penalty = 0.5 - (lengths[i] - shortest) / (longest - shortest)
            correct = (correctness[i].value or 0.0) >= params.correct_threshold
            scores[i] = Score(penalty if correct else min(0.0, penalty))
    return scores


class OverlongParams(LengthSource):
    model_config = ConfigDict(extra="forbid")

    max_length: int = Field(..., gt=0, description="L_max: longer completions get −1.")
    cache_length: int = Field(
        ...,
        ge=0,
        description="L_cache: the punishment ramps from 0 to −1 over the last L_cache tokens before L_max.",
    )

    @model_validator(mode="after")
    def _cache_inside_max(self) -> OverlongParams:
        if self.cache_length > self.max_length:
            raise ValueError("cache_length must not exceed max_length")
        return self


def overlong_reward(items: Sequence[Item], params: OverlongParams, ctx: RewardContext) -> list[Score]:
    """DAPO soft overlong punishment: 0 up to L_max − L_cache, then linear down to −1 at L_max, −1 beyond."""
    try:
        lengths = completion_lengths(items, params, ctx, "overlong")
    except GradingError as exc:
        return [Score(None, exc.error)] * len(items)
    expected = params.max_length - params.cache_length
    scores = []
    for length in lengths:
        if length <= expected:
            scores.append(Score(0.0))
        elif length <= params.max_length:
            scores.append(Score((expected - length) / params.cache_length))
        else:
            scores.append(Score(-1.0))
    return scores
