"""`repetition`: penalise completions that loop, a common failure of long RL rollouts."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from service.items import Item
from service.rewards.base import RewardContext, Score


class RepetitionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ngram_size: int = Field(3, ge=1, le=32, description="Length of the word n-grams compared.")
    max_penalty: float = Field(-1.0, le=0, description="Score of a completion that is one n-gram repeated.")


def repetition_reward(items: Sequence[Item], params: RepetitionParams, ctx: RewardContext) -> list[Score]:
    """N-gram repetition penalty: max_penalty × (1 − distinct n-grams / n-grams), in [max_penalty, 0].

    Words are lower-cased whitespace tokens; completions shorter than one n-gram score 0.
    """
    scores = []
    for item in items:
        words = item.text.lower().split()
        ngrams = [tuple(words[i : i + params.ngram_size]) for i in range(len(words) - params.ngram_size + 1)]
        if not ngrams:
            scores.append(Score(0.0))
            continue
        repeated = 1 - len(set(ngrams)) / len(ngrams)
        scores.append(Score(repeated * params.max_penalty + 0.0))  # no -0.0 in the JSON
    return scores
