"""`reasoning_gym`: reasoning-gym's 100+ procedural tasks, scored by each dataset's own scorer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.grading.errors import ErrorKind, ScoreError
from service.grading.procedural import Extract, dataset_names, score_entries, score_entry
from service.items import Item
from service.rewards.base import RewardContext, Score
from service.runtime.resources import required
from service.runtime.worker_pool import Outcome

CHUNK = 32


class ReasoningGymParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    extract: Extract = Field(
        "answer_tag",
        description="How the answer is taken from the completion: reasoning-gym's own rule (the last "
        "<answer>...</answer>), the last \\boxed{}, or the whole completion.",
    )
    dataset: str | None = Field(
        None, description="The dataset for every item; else `metadata.source_dataset`."
    )
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="Passed to `create_dataset` for every item (for the scorers that read their "
        "config): use it with `dataset`, or a batch of one dataset.",
    )
    strict: bool = Field(True, description="puzzle24: the expression must use exactly the puzzle's numbers.")
    binary: bool = Field(False, description="1.0 when the native score reaches `threshold`, else 0.0.")
    threshold: float = Field(1.0, ge=0.0, le=1.0)
    timeout_s: float = Field(
        10.0,
        gt=0,
        le=120,
        description="Per chunk of 32 items, then per item; past it the scorer is killed (null).",
    )


def _scored(tasks: list[tuple[Any, ...]], timeout_s: float, ctx: RewardContext) -> list[Outcome]:
    """Each task's outcome. Chunks of `CHUNK` items go to a worker at once; a chunk that times out or
    kills its worker is run again one item per call, so only the guilty item is null (it then costs
    up to twice the timeout)."""
    pool = required(ctx.resources.math_pool, "math_pool")
    starts = range(0, len(tasks), CHUNK)
    results = pool.map(score_entries, [(tasks[start : start + CHUNK],) for start in starts], timeout_s)
    outcomes: dict[int, Outcome] = {}
    retry: list[int] = []  # every failed chunk's items, in one second round that runs side by side
    for start, result in zip(starts, results, strict=True):
        if result.error is not None:
            retry += range(start, min(start + CHUNK, len(tasks)))
            continue
        for offset, (value, why) in enumerate(result.value):
            error = ScoreError(ErrorKind.worker_error, why) if value is None else None
            outcomes[start + offset] = Outcome(value, error)
    retried = pool.map(score_entry, [tasks[index] for index in retry], timeout_s)
    outcomes.update(zip(retry, retried, strict=True))
    return [outcomes[index] for index in range(len(tasks))]


def reasoning_gym_reward(
    items: Sequence[Item], params: ReasoningGymParams, ctx: RewardContext
) -> list[Score]:
    """reasoning-gym's native score (0..1) of the answer for the item's `metadata` (its dataset in
    `metadata.source_dataset`) and `answer` (the oracle; may be null), with known scorer bugs repaired."""
    known = set(dataset_names())
    config = json.dumps(params.config, sort_keys=True)
    scores: list[Score | None] = [None] * len(items)
    tasks: list[tuple[Any, ...]] = []
    asked: list[int] = []
    for index, item in enumerate(items):
        metadata = item.get("metadata")
        name = params.dataset or (metadata.get("source_dataset") if isinstance(metadata, dict) else None)
        if not isinstance(metadata, dict) or name not in known:
            why = (
                "`metadata` must be reasoning-gym's dict"
                if not isinstance(metadata, dict)
                else (f"unknown reasoning-gym dataset {name!r}")
            )
            scores[index] = Score.fail(ErrorKind.invalid_item, why)
            continue
        gold = item.answer if isinstance(item.answer, str) or item.answer is None else item.answer[0]
        entry = {"question": item.prompt_text, "answer": gold, "metadata": metadata}
        tasks.append((name, config, item.text, params.extract, entry, params.strict))
        asked.append(index)
    for index, outcome in zip(asked, _scored(tasks, params.timeout_s, ctx), strict=True):
        if outcome.error is not None:
            scores[index] = Score(None, outcome.error)
        elif params.binary:
            native = float(outcome.value)
            scores[index] = Score(float(native >= params.threshold), parts={"native": native})
        else:
            scores[index] = Score(float(outcome.value))
    return [s if s is not None else Score.fail(ErrorKind.internal_error, "not scored") for s in scores]
