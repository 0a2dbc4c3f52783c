"""reasoning-gym's procedural tasks, scored by each dataset's own `score_answer`, with the scorer bugs
that give wrong rewards repaired. Plain Python: `score_entry` runs in the killable worker processes
(some scorers call `eval` or sympy on model output).

Repaired here, each tested:
- `arc_agi`, `rearc`: the scorer compares its parsed grid (tuples) with `metadata.output`, which is a
  list of lists once the item went through JSON: a right answer scored 0.05. The grids become tuples.
- `game_of_life_halting`: the scorer compares `bool(answer)` with `bool(gold)`; any non-empty text
  ("False" included) is true, so every answer scored 1.0. The answer is compared as text instead.
- `puzzle24` (with `strict`): the scorer checks that the expression makes 24 with four numbers in
  range, never that they are the puzzle's numbers (`4*6*1*1` scored 1.0 on every item).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import lru_cache
from typing import Any, Literal

from service.grading.math.extraction import last_boxed

Extract = Literal["answer_tag", "boxed", "none"]

PUZZLE24_WRONG = 0.01
"""What reasoning-gym's puzzle24 scorer gives a wrong expression."""


def dataset_names() -> list[str]:
    from reasoning_gym.factory import DATASETS

    return sorted(DATASETS)


@lru_cache(maxsize=256)
def dataset_instance(name: str, config_json: str) -> Any:
    """One instance per dataset and config in each worker: scorers only read its config."""
    import reasoning_gym

    return reasoning_gym.create_dataset(name, **{"size": 1, "seed": 0, **json.loads(config_json)})


def _as_tuples(value: Any) -> Any:
    return tuple(_as_tuples(v) for v in value) if isinstance(value, list) else value


def _numbers_used(expression: str) -> Counter[int]:
    return Counter(int(n) for n in re.findall(r"\b\d+\b", expression))


def answer_from(completion: str, extract: Extract) -> str | None:
    """The answer in the completion: reasoning-gym's own rule (the last `<answer>...</answer>`), the
    last `\\boxed{}`, or the whole text."""
    if extract == "none":
        return completion.strip()
    if extract == "boxed":
        return last_boxed(completion)
    from reasoning_gym.utils import extract_answer

    return extract_answer(completion)


def score_entry(
    name: str, config_json: str, completion: str, extract: Extract, entry: dict[str, Any], strict: bool
) -> float:
    """The dataset's score of the completion's answer for `entry` (question, answer, metadata), in
    0..1. Extraction runs here too, in the worker: its regex is quadratic on hostile text."""
    answer = answer_from(completion, extract)
    if name == "game_of_life_halting":
        if entry.get("answer") is None:
            raise ValueError("game_of_life_halting needs the item's `answer`")
        return float(answer is not None and answer.strip().lower() == str(entry["answer"]).strip().lower())
    if name in ("arc_agi", "rearc"):
        metadata = dict(entry["metadata"])
        metadata["output"] = _as_tuples(metadata.get("output"))
        entry = {**entry, "metadata": metadata}
    value = float(dataset_instance(name, config_json).score_answer(answer, entry))
    if strict and name == "puzzle24" and value > PUZZLE24_WRONG and answer is not None:
        given = Counter(int(n) for n in entry["metadata"].get("numbers", []))
        if _numbers_used(answer) != given:
            return PUZZLE24_WRONG
    return value


def score_entries(tasks: list[tuple[Any, ...]]) -> list[tuple[float | None, str]]:
    """`score_entry` over a chunk of items in one worker call (the scorers take microseconds; a call
    per item would be all inter-process overhead): (score, "") or (None, why) per item."""
    results: list[tuple[float | None, str]] = []
    for task in tasks:
        try:
            results.append((score_entry(*task), ""))
        except Exception as exc:  # one item's scorer failing leaves the rest of the chunk scored
            results.append((None, f"{type(exc).__name__}: {exc}"))
    return results
