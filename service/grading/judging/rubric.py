"""Rubric rewards (Rubrics as Rewards, arXiv 2507.17746): instance-specific weighted criteria, each
judged on its own.

A rubric is a list of `{"criterion": str, "weight": float, "essential": bool}`. RaR's released
rubrics (`{"title", "description", "weight"}`, essentials written as `Essential Criteria: ...`) are
read as they ship. A negative weight is a pitfall: a response that shows it loses that weight.

    score = sum(weight × verdict) / sum(positive weights), clipped to [0, 1]

where a verdict is 1 (satisfied), 0 (not) or a rating's share. With `all_essential`, a failed
essential criterion makes the score 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from service.grading.judging.fencing import DATA_RULE, fenced
from service.grading.judging.verdicts import (
    json_objects,
    number_verdict,
    object_verdict,
    read_verdict,
    word_verdict,
)

Aggregate = Literal["weighted", "all_essential"]
MAX_CRITERIA = 64
MAX_CRITERION_CHARS = 4000
ESSENTIAL_PREFIX = re.compile(r"^\s*essential criteri(?:a|on)\s*:\s*", re.IGNORECASE)


class Criterion(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    criterion: str = Field(..., min_length=1, max_length=MAX_CRITERION_CHARS, alias="description")
    weight: float = 1.0
    essential: bool = False

    @model_validator(mode="before")
    @classmethod
    def _as_shipped(cls, value: Any) -> Any:
        """`criterion` or RaR's `description` (its `title` when there is no description); a plain
        string is a criterion of weight 1; `Essential Criteria:` marks an essential one."""
        if isinstance(value, str):
            value = {"criterion": value}
        if isinstance(value, dict):
            value = dict(value)
            text = value.get("criterion", value.get("description", value.get("title")))
            if isinstance(text, str):
                if ESSENTIAL_PREFIX.match(text):
                    value.setdefault("essential", True)
                value["criterion"] = text
                value.pop("description", None)
        return value

    @field_validator("weight")
    @classmethod
    def _finite(cls, weight: float) -> float:
        if not math.isfinite(weight):
            raise ValueError("must be a finite number")
        return weight


def parse_rubric(raw: Any) -> list[Criterion]:
    """The item's rubric, or ValueError naming the first bad criterion by index."""
    if not isinstance(raw, list) or not raw:
        raise ValueError("`rubric` must be a non-empty list of {criterion, weight}")
    if len(raw) > MAX_CRITERIA:
        raise ValueError(f"`rubric` has {len(raw)} criteria; at most {MAX_CRITERIA}")
    criteria = []
    for index, entry in enumerate(raw):
        try:
            criteria.append(Criterion.model_validate(entry))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ValueError(f"rubric[{index}]{'.' + where if where else ''}: {first['msg']}") from None
    if not any(c.weight > 0 for c in criteria):
        raise ValueError("`rubric` has no criterion with a positive weight: nothing can be earned")
    return criteria


SYSTEM = f"You are a strict, fair grader. You judge whether a response satisfies a criterion. {DATA_RULE}"

ONE_FORMAT = (
    "Think briefly if you need to, then end with exactly one line: `VERDICT: YES` if the response "
    "satisfies the criterion, `VERDICT: NO` if it does not."
)

ALL_FORMAT = (
    "Judge each criterion on its own. Answer with a JSON object only, one verdict per criterion in "
    'order: {{"verdicts": ["YES" or "NO", ...]}} ({count} verdicts).'
)


PITFALL = " (a pitfall: YES means the response makes this mistake)"


def criterion_messages(question: str, response: str, criterion: Criterion) -> list[dict[str, str]]:
    """The chat that asks the judge about one criterion."""
    kind = PITFALL if criterion.weight < 0 else ""
    user = (
        f"## Question\n{fenced(question)}\n\n## Response\n{fenced(response)}\n\n"
        f"## Criterion{kind}\n{criterion.criterion}\n\n{ONE_FORMAT}"
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def all_criteria_messages(
    question: str, response: str, criteria: Sequence[Criterion]
) -> list[dict[str, str]]:
    """The chat that asks the judge about every criterion at once."""
    listed = "\n".join(
        f"{number}. {c.criterion}{PITFALL if c.weight < 0 else ''}" for number, c in enumerate(criteria, 1)
    )
    user = (
        f"## Question\n{fenced(question)}\n\n## Response\n{fenced(response)}\n\n## Criteria\n{listed}\n\n"
        + ALL_FORMAT.format(count=len(criteria))
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def entry_verdict(entry: Any) -> float | None:
    if isinstance(entry, dict):
        return object_verdict(entry)
    word = word_verdict(entry)
    return word if word is not None else number_verdict(entry)


def read_all_verdicts(text: str, count: int) -> list[float | None]:
    """One verdict per criterion from a single answer: the last JSON object with a `verdicts` list
    of that length (words, booleans, numbers or `{verdict}` objects), else numbered lines
    (`2. VERDICT: NO`, `2: yes`). Unreadable entries are None."""
    for _, _, payload in reversed(json_objects(text[-20_000:])):
        if isinstance(payload, dict) and isinstance(payload.get("verdicts"), list):
            entries = payload["verdicts"]
            if len(entries) == count:
                return [entry_verdict(entry) for entry in entries]
    verdicts: list[float | None] = [None] * count
    for line in text[-20_000:].splitlines():
        match = re.match(r"[\s*_#]*(\d{1,3})[ \t]*[.:)\]-][ \t]*(.*)", line)
        if match and 1 <= int(match.group(1)) <= count:
            rest = match.group(2)
            verdict = read_verdict(rest)
            if verdict is None:
                word = re.match(r"[\s*_`\"']*(yes|no|true|false|met|not met)\b", rest, re.IGNORECASE)
                verdict = word_verdict(word.group(1)) if word else None
            if verdict is not None:
                verdicts[int(match.group(1)) - 1] = verdict
    return verdicts


def rubric_score(criteria: Sequence[Criterion], verdicts: Sequence[float], aggregate: Aggregate) -> float:
    """Satisfied weight over the positive weight, clipped to [0, 1]; `all_essential`: 0 when an
    essential criterion is not satisfied (a verdict under one half), or an essential pitfall is."""
    if aggregate == "all_essential" and any(
        c.essential and (v < 0.5 if c.weight > 0 else v >= 0.5)
        for c, v in zip(criteria, verdicts, strict=True)
    ):
        return 0.0  # an essential criterion missed, or an essential pitfall made
    earned = sum(c.weight * v for c, v in zip(criteria, verdicts, strict=True))
    possible = sum(c.weight for c in criteria if c.weight > 0)
    return min(max(earned / possible, 0.0), 1.0)
