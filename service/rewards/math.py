"""`math`: is the completion's final answer equal to the gold answer?"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from service.api.schemas import Item
from service.grading.math.equivalence import LogBase, quick_verdict, sympy_verdict
from service.grading.math.extraction import extract_answer
from service.rewards.base import RewardContext, Score
from service.runtime.resources import required


class MathParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timeout_s: float = Field(
        5.0, gt=0, le=120, description="Hard per-item limit; the worker is killed past it."
    )
    log_base: LogBase = Field(
        "e",
        description="Base of a bare `\\log`. Natural by default (what `\\log` means in most math "
        "datasets and in analysis); `10` is math-verify's reading.",
    )


def math_reward(items: Sequence[Item], params: MathParams, ctx: RewardContext) -> list[Score]:
    """1.0 if the final answer (last \\boxed{}, <answer> tag, "the answer is", last number) equals the gold.

    An `answer` list means several accepted answers: any of them scores 1.0. Identical (gold, answer)
    pairs are graded once; plain numbers and identical strings skip sympy; the rest goes to killable
    worker processes with a hard timeout.
    """
    verdicts: dict[tuple[str, str], Score] = {}
    pending: list[tuple[str, str]] = []
    answers: list[str | None] = []
    for item in items:
        extraction = extract_answer(item.text)
        answer = extraction.answer if extraction else None
        answers.append(answer)
        if answer is None:
            continue
        for key in ((gold, answer) for gold in item.golds):
            if key in verdicts or key in pending:
                continue
            quick = quick_verdict(*key)
            if quick is None:
                pending.append(key)
            else:
                verdicts[key] = Score(float(quick))

    if pending:
        pool = required(ctx.resources.math_pool, "math_pool")
        outcomes = pool.map(
            sympy_verdict, [(*key, params.log_base) for key in pending], timeout=params.timeout_s
        )
        for key, outcome in zip(pending, outcomes, strict=True):
            verdicts[key] = (
                Score(None, outcome.error) if outcome.error is not None else Score(float(outcome.value))
            )

    return [
        Score(0.0) if answer is None else best_of([verdicts[(gold, answer)] for gold in item.golds])
        for item, answer in zip(items, answers, strict=True)
    ]


def best_of(scores: list[Score]) -> Score:
    """Against several accepted answers: the best score; null only when no gold could be graded."""
    graded = [score for score in scores if score.value is not None]
    return max(graded, key=lambda score: score.value or 0.0) if graded else scores[0]
