"""The environment's side of a trajectory: predicates on its final state, and anchors that name the
observation each turn answered (for GiGPO-style step groups)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from service.grading.trajectory.turns import Message

# State predicates ---------------------------------------------------------------------------------

Op = Literal["eq", "ne", "in", "contains", "exists", "gte", "lte"]
MISSING = object()


def lookup(state: Any, path: str) -> Any:
    """`cart.items.0.id` in nested objects and lists; MISSING when a step does not exist."""
    value = state
    for key in path.split(".") if path else []:
        if isinstance(value, Mapping) and key in value:
            value = value[key]
        elif (
            isinstance(value, list)
            and re.fullmatch(r"-?[0-9]+", key)
            and -len(value) <= int(key) < len(value)
        ):
            value = value[int(key)]
        else:
            return MISSING
    return value


def holds(state: Any, path: str, op: Op, expected: Any = None) -> bool:
    """Whether one `{path, op, value}` predicate holds on the state. Incomparable values do not hold."""
    actual = lookup(state, path)
    if op == "exists":
        return actual is not MISSING if expected in (None, True) else actual is MISSING
    if actual is MISSING:
        return op == "ne"
    try:
        if op == "eq":
            return bool(actual == expected)
        if op == "ne":
            return bool(actual != expected)
        if op == "in":
            return isinstance(expected, list | str | dict) and actual in expected
        if op == "contains":
            return isinstance(actual, list | str | dict) and expected in actual
        if op == "gte":
            return bool(actual >= expected)
        if op == "lte":
            return bool(actual <= expected)
    except TypeError:
        return False
    raise ValueError(f"unknown op {op!r}")


# Anchors ------------------------------------------------------------------------------------------


def anchor(observation: str) -> str:
    """A stable id of an environment observation, whitespace-normalised: equal observations give equal
    anchors across requests and processes, so a trainer can form GiGPO step groups from them."""
    normalised = " ".join(observation.split())
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:16]


def observation_before(
    messages: Sequence[Message], prompt: Sequence[Message] | str | None, index: int
) -> str:
    """What the policy saw just before the turn at `index`: the previous message (a tool result or
    an environment observation), or the prompt's last message for the first turn."""
    if index > 0:
        return messages[index - 1].text
    if isinstance(prompt, str):
        return prompt
    return prompt[-1].text if prompt else ""
