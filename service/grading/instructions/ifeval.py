"""Score a response against a list of instructions, IFEval style.

Ground truths come in the forms users have: open-instruct's `ground_truth` (a Python-literal string
`"[{'instruction_id': [...], 'kwargs': [...]}]"`, read with `ast.literal_eval`, never `eval`), a JSON
object `{"instruction_id_list": [...], "kwargs": [...]}` (Google's rows), or the same two fields on
the item. Kwargs whose value is None are dropped, as open-instruct does.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from service.grading.instructions.checks import INSTRUCTIONS

Mode = Literal["strict", "loose"]


class GroundTruthError(ValueError):
    """The constraints cannot be read at all (not one instruction)."""


@dataclass(frozen=True)
class Instruction:
    id: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Followed:
    """One instruction's verdict; `error` when it could not be checked (it then counts as not followed)."""

    instruction: Instruction
    followed: bool
    error: str | None = None


def _literal(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise GroundTruthError(f"ground truth is neither JSON nor a Python literal: {exc}") from None


def parse_ground_truth(value: Any) -> list[Instruction]:
    """The instructions of one item's ground truth, in any of the accepted forms."""
    if isinstance(value, str):
        value = _literal(value)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
        if isinstance(value, str):
            value = _literal(value)
    if not isinstance(value, Mapping):
        raise GroundTruthError(
            "ground truth must be {instruction_id(_list), kwargs} or a one-element list of it"
        )
    ids = value.get("instruction_id_list", value.get("instruction_id"))
    if isinstance(ids, str):
        ids = [ids]
    if not isinstance(ids, list):
        raise GroundTruthError("`instruction_id_list` must be a list of instruction ids")
    kwargs = value.get("kwargs") or [{}] * len(ids)
    if isinstance(kwargs, Mapping):
        kwargs = [kwargs]
    if not isinstance(ids, list) or not isinstance(kwargs, list) or len(ids) != len(kwargs):
        raise GroundTruthError("`instruction_id_list` and `kwargs` must be lists of the same length")
    return [
        Instruction(
            str(i), {str(k): v for k, v in kw.items() if v is not None} if isinstance(kw, Mapping) else {}
        )
        for i, kw in zip(ids, kwargs, strict=True)
    ]


def loose_variants(response: str) -> list[str]:
    """Google's loose reading: the response, without its first and/or last line, with `*` removed."""
    lines = response.split("\n")
    cut = ["\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(), "\n".join(lines[1:-1]).strip()]
    return [response, response.replace("*", ""), *cut, *(c.replace("*", "") for c in cut)]


def check(response: str, instructions: list[Instruction], mode: Mode = "strict") -> list[Followed]:
    variants = [response] if mode == "strict" else loose_variants(response)
    results = []
    for instruction in instructions:
        checker = INSTRUCTIONS.get(instruction.id)
        if checker is None:
            results.append(Followed(instruction, False, "unknown instruction"))
            continue
        try:
            followed = any(v.strip() and checker(v, **instruction.kwargs) for v in variants)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            results.append(Followed(instruction, False, f"bad kwargs: {where}: {first['msg']}"))
            continue
        except (ValueError, TypeError) as exc:  # e.g. a letter that is two letters
            results.append(Followed(instruction, False, f"bad kwargs: {exc}"))
            continue
        results.append(Followed(instruction, bool(followed)))
    return results
