"""The calls a trajectory made against the calls expected (BFCL / tau-bench style): as a multiset,
by F1, in order, or by argument inclusion. Calls compare as canonical JSON, so key order and the
argument encoding do not matter."""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from service.grading.trajectory.turns import ToolCall, structured_call

MatchMode = Literal["set", "f1", "subset_args", "sequence"]


def expected_calls(raw: Any) -> list[ToolCall]:
    """The item's `expected_calls` (`[{name, arguments}]`); ValueError naming the bad entry."""
    if not isinstance(raw, list):
        raise ValueError("`expected_calls` must be a list of {name, arguments}")
    calls = [structured_call(entry, 0) for entry in raw]
    for number, call in enumerate(calls):
        if call.problem or call.name is None or call.arguments is None:
            raise ValueError(f"expected_calls[{number}]: {call.problem or 'malformed call'}")
    return calls


def includes(actual: Any, expected: Any) -> bool:
    """`expected` appears in `actual`: every expected key with an included value (recursively)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and includes(actual[k], v) for k, v in expected.items()
        )
    return bool(actual == expected)


def calls_match_score(made: list[ToolCall], wanted: list[ToolCall], mode: MatchMode) -> float:
    made_keys = [call.canonical() for call in made if call.name is not None]
    wanted_keys = [call.canonical() for call in wanted]
    if mode == "sequence":
        return float(made_keys == wanted_keys)
    if mode == "set":
        return float(Counter(made_keys) == Counter(wanted_keys))
    if mode == "subset_args":
        if not wanted:
            return 1.0
        unused = [call for call in made if call.name is not None]
        found = 0
        for call in wanted:
            match = next(
                (c for c in unused if c.name == call.name and includes(c.arguments, call.arguments)), None
            )
            if match is not None:
                unused.remove(match)
                found += 1
        return found / len(wanted)
    common = sum((Counter(made_keys) & Counter(wanted_keys)).values())
    if not made_keys and not wanted_keys:
        return 1.0
    if common == 0:
        return 0.0
    precision, recall = common / len(made_keys), common / len(wanted_keys)
    return 2 * precision * recall / (precision + recall)
