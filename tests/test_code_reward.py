"""The `code` reward: extraction, output comparison, verdicts on real submissions, via the API too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.items import Item
from service.rewards.base import RewardContext
from service.rewards.code import CodeParams, code_reward, extract_code, outputs_match
from service.runtime.resources import Resources
from service.runtime.sandbox_pool import SandboxPool

TASKS = json.loads((Path(__file__).parent / "data" / "code_tasks.json").read_text())["tasks"]
SCORE_OF_VERDICT = {"accepted": 1.0}
ERROR_OF_VERDICT = {
    "time_limit": "timeout",
    "memory_limit": "memory_limit",
    "runtime_error": "runtime_error",
    "wrong_answer": "wrong answer",
}


@pytest.fixture(scope="module")
def ctx() -> Iterator[RewardContext]:
    pool = SandboxPool("local", 2)
    yield RewardContext(resources=Resources(sandboxes=pool))
    pool.close()


def fenced(code: str, language: str) -> str:
    return f"Here is my solution.\n```{language}\n{code}```\nIt runs in O(n)."


def test_extracts_the_last_block_of_the_language() -> None:
    text = "```python\nfirst\n```\n```cpp\nint x;\n```\n```py\nsecond\n```"
    assert extract_code(text, "python") == "second\n"
    assert extract_code(text, "cpp") == "int x;\n"
    assert extract_code("```\nplain\n```", "python") == "plain\n"
    assert extract_code("no fence", "python") is None


@pytest.mark.parametrize(
    ("actual", "expected", "tolerance", "match"),
    [
        ("1\n2\n", "1\n2", None, True),
        ("1   \n2\n\n\n", "1\n2\n", None, True),
        ("1\n", "1\n2\n", None, False),  # a missing line fails (no zip() bug)
        ("1\n2\n3\n", "1\n2\n", None, False),  # so does an extra one
        ("1 2", "1  2", None, False),  # inner whitespace matters
        ("0.3333333", "0.33333333", 1e-6, True),
        ("0.33", "0.3333", 1e-6, False),
        ("abc 1.0", "abc 1", 1e-9, True),
        ("abd 1.0", "abc 1", 1e-9, False),
    ],
)
def test_output_comparison(actual: str, expected: str, tolerance: float | None, match: bool) -> None:
    assert outputs_match(actual, expected, tolerance) is match


CASES = [(task, sub) for task in TASKS for sub in task["submissions"]]


@pytest.mark.parametrize(
    ("task", "submission"),
    CASES,
    ids=[f"{t['name']}-{s['language']}-{s['verdict']}-{i}" for i, (t, s) in enumerate(CASES)],
)
def test_verdicts_on_stdin_stdout_tasks(task: dict, submission: dict, ctx: RewardContext) -> None:
    item = Item(
        completion=fenced(submission["code"], submission["language"]),
        tests=task["tests"],
        language=submission["language"],
    )
    params = CodeParams(time_limit_s=2, memory_limit_mb=256, float_tolerance=task.get("float_tolerance"))
    score = code_reward([item], params, ctx)[0]
    verdict = submission["verdict"]
    if verdict == "accepted":
        assert score.value == 1.0 and score.error is None
    else:
        assert score.value is not None and score.value < 1.0
        assert ERROR_OF_VERDICT[verdict] in str(score.error), score.error


def test_compile_error_no_block_and_options(ctx: RewardContext) -> None:
    tests = [{"input": "1", "output": "1"}, {"input": "2", "output": "2"}, {"input": "3", "output": "4"}]
    echo = Item(completion=fenced("print(input())\n", "python"), tests=tests)
    assert code_reward([echo], CodeParams(), ctx)[0].value == pytest.approx(2 / 3)
    assert code_reward([echo], CodeParams(all_or_nothing=True), ctx)[0].value == 0.0
    broken = Item(completion=fenced("int main( {\n", "cpp"), tests=tests, language="cpp")
    score = code_reward([broken], CodeParams(), ctx)[0]
    assert score.value == 0.0 and str(score.error).startswith("compile_error: ")
    none = code_reward([Item(completion="I would use a loop.", tests=tests)], CodeParams(), ctx)[0]
    assert none.value == 0.0 and "no python code block" in str(none.error)
    wrong_first = Item(completion=fenced("print(0)\n", "python"), tests=tests)
    stopped = code_reward([wrong_first], CodeParams(early_stop=True), ctx)[0]
    assert stopped.value == 0.0 and "stopped after test 1 of 3" in str(stopped.error)


def test_assert_style_tests_and_the_exit_zero_trick(ctx: RewardContext) -> None:
    tests = ["assert add(1, 2) == 3", {"assert": "assert add(-1, 1) == 0"}, "assert add(2, 2) == 5"]
    good = Item(completion=fenced("def add(a, b):\n    return a + b\n", "python"), tests=tests)
    assert code_reward([good], CodeParams(), ctx)[0].value == pytest.approx(2 / 3)
    cheat = Item(completion=fenced("import sys\nsys.exit(0)\ndef add(a, b): pass\n", "python"), tests=tests)
    score = code_reward([cheat], CodeParams(), ctx)[0]
    assert score.value == 0.0 and "did not run to the end" in str(score.error)
    forge = "import sys\nprint(sys.stdin.read().strip(), open(0).read())\nsys.exit(0)\ndef add(a, b): pass\n"
    forged = Item(completion=fenced(forge, "python"), tests=tests)  # the secret is not on stdin any more
    assert code_reward([forged], CodeParams(), ctx)[0].value == 0.0
    future = "from __future__ import annotations\ndef add(a: int, b: int) -> int:\n    return a + b\n"
    assert code_reward([Item(completion=fenced(future, "python"), tests=tests)], CodeParams(), ctx)[
        0
    ].value == pytest.approx(2 / 3)


def test_bad_items_are_null_with_a_reason(ctx: RewardContext) -> None:
    scores = code_reward(
        [
            Item(completion="```python\nx\n```", tests=[]),
            Item(completion="```python\nx\n```", tests=[{"input": "1"}], language="cobol"),
            Item(completion="```cpp\nx\n```", tests=["assert f()"], language="cpp"),
        ],
        CodeParams(),
        ctx,
    )
    assert [s.value for s in scores] == [None, None, None]
    assert "non-empty list" in str(scores[0].error) and "unknown language" in str(scores[1].error)
    assert "Python only" in str(scores[2].error)


def test_code_reward_and_execute_through_the_api(live_server: str) -> None:
    tests = [{"input": "2 3", "output": "5"}]
    body = {
        "rewards": {"code": 1.0},
        "items": [
            {
                "completion": fenced("a, b = map(int, input().split())\nprint(a + b)\n", "python"),
                "tests": tests,
            },
            {"completion": "no code", "tests": tests},
            {"completion": fenced("print(1)", "python")},
        ],
    }
    response = httpx.post(f"{live_server}/v1/rewards", json=body, timeout=60)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == [
        "body",
        "items",
        2,
        "tests",
    ]
    body["items"].pop()
    results = httpx.post(f"{live_server}/v1/rewards", json=body, timeout=60).json()["results"]
    assert [r["scores"]["code"] for r in results] == [1.0, 0.0]
    assert "no python code block" in results[1]["errors"]["code"]

    runs = {
        "runs": [
            {"source": "print(input()[::-1])", "stdin": "abc"},
            {"language": "cpp", "source": "int main(){return 3;}"},
            {"source": "while True: pass", "time_limit_s": 0.5},
        ]
    }
    executed = httpx.post(f"{live_server}/v1/execute", json=runs, timeout=60).json()
    assert [r["status"] for r in executed["results"]] == ["ok", "runtime_error", "timeout"]
    assert executed["results"][0]["stdout"] == "cba\n" and executed["results"][1]["exit_code"] == 3
    one = httpx.post(f"{live_server}/v1/execute", json={"run": {"source": "print(1)"}}, timeout=60).json()
    assert one["results"][0]["stdout"] == "1\n" and one["backend"] == "local"
    for bad, loc in [
        ({"runs": [{"source": "x", "time_limit_s": -1}]}, ["body", "runs", 0, "time_limit_s"]),
        ({"run": {"source": "x"}, "backend": "vm"}, ["body", "backend"]),
        ({}, ["body"]),
    ]:
        response = httpx.post(f"{live_server}/v1/execute", json=bad, timeout=60)
        assert response.status_code == 422 and response.json()["detail"][0]["loc"][: len(loc)] == loc
