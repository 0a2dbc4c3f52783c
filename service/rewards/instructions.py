"""`ifeval` and `ifeval_old`: instruction-following constraints, as Tülu 3 / OLMo RLVR train on."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.grading.errors import ErrorKind
from service.grading.instructions.ifeval import GroundTruthError, Mode, check, parse_ground_truth
from service.grading.instructions.legacy import FUNCTIONS
from service.items import Item
from service.rewards.base import RewardContext, Score


class IFEvalParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Mode = Field(
        "strict", description="`loose` also accepts Google's 8 variants (first/last line, `*`)."
    )
    aggregate: Literal["fraction", "all"] = Field(
        "fraction", description="Fraction of instructions followed (open-instruct), or 1 only if all are."
    )
    think_tag: str | None = Field("think", description="Only the text after the last `</think>` is checked.")


class IFEvalOldParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    think_tag: str | None = Field("think", description="Only the text after the last `</think>` is checked.")


def response_text(item: Item, think_tag: str | None) -> str:
    """What open-instruct checks: after the reasoning block, `<answer>` tags removed."""
    text = item.text
    if think_tag:
        text = text.split(f"</{think_tag}>")[-1]
    return text.replace("<answer>", "").replace("</answer>", "").strip()


def ground_truth_of(item: Item) -> Any:
    """`ground_truth` (open-instruct), else the `instruction_id_list` + `kwargs` fields (Google), else
    `answer` (where verl's `ground_truth` and OpenRLHF's label arrive)."""
    if item.get("ground_truth") is not None:
        return item.get("ground_truth")
    if item.get("instruction_id_list") is not None:
        return {"instruction_id_list": item.get("instruction_id_list"), "kwargs": item.get("kwargs")}
    return item.answer if isinstance(item.answer, str) else None


def ifeval_reward(items: Sequence[Item], params: IFEvalParams, ctx: RewardContext) -> list[Score]:
    """Fraction of the item's IFEval / IFEvalG instructions the response follows (or 1 only if all).

    Instructions in `ground_truth` (open-instruct's string or Google's JSON object), the fields
    `instruction_id_list` + `kwargs`, or `answer`. Those not followed are listed in `errors` as
    `index:id`, with why when an id is unknown or its kwargs are wrong (that instruction scores 0)."""
    scores = []
    for item in items:
        truth = ground_truth_of(item)
        if truth is None:
            scores.append(Score.fail(ErrorKind.invalid_item, "no `ground_truth` or `instruction_id_list`"))
            continue
        try:
            instructions = parse_ground_truth(truth)
        except GroundTruthError as exc:
            scores.append(Score.fail(ErrorKind.invalid_item, str(exc)))
            continue
        if not instructions:
            scores.append(Score.fail(ErrorKind.invalid_item, "the constraint list is empty"))
            continue
        results = check(response_text(item, params.think_tag), instructions, params.mode)
        followed = sum(r.followed for r in results)
        value = followed / len(results) if params.aggregate == "fraction" else float(followed == len(results))
        missed = [
            f"{index}:{r.instruction.id}" + (f" ({r.error})" if r.error else "")
            for index, r in enumerate(results)
            if not r.followed
        ]
        scores.append(
            Score.remark(value, ErrorKind.not_followed, ", ".join(missed)) if missed else Score(value)
        )
    return scores


def ifeval_old_reward(items: Sequence[Item], params: IFEvalOldParams, ctx: RewardContext) -> list[Score]:
    """Tülu 3's older form: `ground_truth` (else `answer`) is `{"func_name": "validate_lowercase",
    ...arguments}` (an object or its JSON); 1.0 if the function holds for the response."""
    scores = []
    for item in items:
        truth = item.get("ground_truth", item.answer)
        try:
            truth = json.loads(truth) if isinstance(truth, str) else truth
        except (ValueError, RecursionError):
            truth = None
        if not isinstance(truth, Mapping) or not isinstance(truth.get("func_name"), str):
            scores.append(
                Score.fail(ErrorKind.invalid_item, "`ground_truth` must be {func_name, ...arguments}")
            )
            continue
        name = truth["func_name"]
        arguments = {k: v for k, v in truth.items() if k != "func_name" and v is not None}
        function = FUNCTIONS.get(name)
        if function is None:
            scores.append(Score.remark(0.0, ErrorKind.invalid_item, f"unknown function {name!r}"))
            continue
        try:
            scores.append(Score(float(function(response_text(item, params.think_tag), **arguments))))
        except (ValidationError, ValueError) as exc:
            scores.append(Score.remark(0.0, ErrorKind.invalid_item, f"{name}: bad arguments: {exc}"))
    return scores
