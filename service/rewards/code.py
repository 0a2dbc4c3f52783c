"""`code`: run the completion's program against the item's tests in a sandbox.

Item fields: `tests` and optionally `language` (default `python`). `tests` is a list whose
entries are any of:
- `{"input": "...", "output": "..."}`: stdin/stdout, compared line by line after trimming trailing
  whitespace (a missing or extra line fails; `float_tolerance` compares numbers approximately);
- `"assert f(2) == 4"` or `{"assert": "..."}`: MBPP-style Python test code run after the solution;
- `{"check": "<code defining check(candidate)>", "entry_point": "f"}`: HumanEval-style.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sandboxes import RunRequest, RunResult, Sandbox, SandboxUnavailable, Status
from sandboxes.languages import LANGUAGES
from service.api.schemas import Item
from service.grading.errors import ErrorKind
from service.rewards.base import RewardContext, Score
from service.runtime.resources import required

_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)```", re.S)


class CodeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    all_or_nothing: bool = Field(False, description="1.0 only if every test passes, else 0.0.")
    early_stop: bool = Field(False, description="Stop at the first failing test (the rest count as failed).")
    float_tolerance: float | None = Field(
        None,
        ge=0,
        description="Compare numeric output tokens with this "
        "absolute-or-relative tolerance instead of exactly.",
    )
    time_limit_s: float = Field(5.0, gt=0, le=60, description="Per test run.")
    memory_limit_mb: int = Field(512, ge=32, le=8192)
    backend: str | None = Field(None, description="`local` or `docker`; default: the server's.")
    default_language: str = Field("python", description="When the item has no `language` field.")


def extract_code(text: str, language: str) -> str | None:
    """The last fenced block tagged as `language`, else the last untagged block."""
    names = LANGUAGES[language].fenced_as
    blocks = _FENCE.findall(text)
    tagged = [code for tag, code in blocks if tag.lower() in names]
    if tagged:
        return tagged[-1]
    untagged = [code for tag, code in blocks if not tag]
    return untagged[-1] if untagged else None


def outputs_match(actual: str, expected: str, tolerance: float | None) -> bool:
    """Line by line, trailing whitespace and trailing blank lines ignored; every line must match."""
    actual_lines = [line.rstrip() for line in actual.rstrip().splitlines()]
    expected_lines = [line.rstrip() for line in expected.rstrip().splitlines()]
    if len(actual_lines) != len(expected_lines):
        return False
    for got, want in zip(actual_lines, expected_lines, strict=True):
        if got == want:
            continue
        if tolerance is None:
            return False
        got_tokens, want_tokens = got.split(), want.split()
        if len(got_tokens) != len(want_tokens):
            return False
        for a, b in zip(got_tokens, want_tokens, strict=True):
            if a != b and not _numbers_close(a, b, tolerance):
                return False
    return True


def _numbers_close(a: str, b: str, tolerance: float) -> bool:
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return math.isclose(x, y, rel_tol=tolerance, abs_tol=tolerance)


class StdioTests(BaseModel):
    """One program, run once per input; its stdout must match."""

    inputs: list[str]
    outputs: list[str]


class ScriptTests(BaseModel):
    """One program per test (solution + test code); it passes when it runs to the end."""

    programs: list[str]


def plan_tests(code: str, language: str, tests: list[Any]) -> StdioTests | ScriptTests:
    if all(isinstance(t, dict) and "input" in t for t in tests):
        return StdioTests(
            inputs=[str(t["input"]) for t in tests], outputs=[str(t.get("output", "")) for t in tests]
        )
    if language != "python":
        raise ValueError("assert-style tests are Python only; use input/output tests for other languages")
    programs = []
    for test in tests:
        if isinstance(test, str):
            body = test
        elif isinstance(test, dict) and "assert" in test:
            body = str(test["assert"])
        elif isinstance(test, dict) and "check" in test and "entry_point" in test:
            body = f"{test['check']}\n\ncheck({test['entry_point']})"
        else:
            raise ValueError(
                "each test is {input, output}, an assert string, {assert} or {check, entry_point}"
            )
        # The last line echoes a secret sent on stdin: a solution that calls exit(0) early does not pass.
        programs.append(
            f"{code}\n\n{body}\n\nimport sys as _referee_sys\nprint(_referee_sys.stdin.readline().strip())\n"
        )
    return ScriptTests(programs=programs)


def stdio_passes(result: RunResult, expected: str, tolerance: float | None) -> bool:
    return result.status == Status.ok and outputs_match(result.stdout, expected, tolerance)


def script_passes(result: RunResult, secret: str) -> bool:
    return result.status == Status.ok and result.stdout.rstrip().endswith(secret)


def failure_message(index: int, result: RunResult, scripted: bool) -> str:
    """`ok` runs that failed either printed the wrong output or stopped before the end of the test."""
    if result.status != Status.ok:
        return f"test {index + 1}: {result.status.value}"
    return f"test {index + 1}: {'did not run to the end of the test' if scripted else 'wrong answer'}"


def _run_plan(
    sandbox: Sandbox, plan: StdioTests | ScriptTests, code: str, language: str, params: CodeParams
) -> tuple[list[RunResult], list[bool]]:
    """Run the tests of one item: (results, which passed), stopping early when asked."""
    limits = {
        "language": language,
        "time_limit_s": params.time_limit_s,
        "memory_limit_mb": params.memory_limit_mb,
    }
    if isinstance(plan, StdioTests):

        def stop(index: int, result: RunResult) -> bool:
            return params.early_stop and not stdio_passes(result, plan.outputs[index], params.float_tolerance)

        results = sandbox.run_tests(RunRequest(source=code, **limits), plan.inputs, stop=stop)
        return results, [
            stdio_passes(r, want, params.float_tolerance)
            for r, want in zip(results, plan.outputs, strict=False)
        ]
    secret = secrets.token_hex(16)

    def stop_script(index: int, result: RunResult) -> bool:
        return params.early_stop and not script_passes(result, secret)

    programs = [RunRequest(source=program, stdin=secret + "\n", **limits) for program in plan.programs]
    results = sandbox.run_programs(programs, stop=stop_script)
    return results, [script_passes(result, secret) for result in results]


def _score_item(item: Item, params: CodeParams, ctx: RewardContext) -> Score:
    language = str(item.get("language") or params.default_language).lower()
    if language not in LANGUAGES:
        return Score.fail(
            ErrorKind.invalid_item, f"unknown language {language!r}; known: {', '.join(sorted(LANGUAGES))}"
        )
    tests = item.get("tests")
    if not isinstance(tests, list) or not tests:
        return Score.fail(ErrorKind.invalid_item, "item field `tests` must be a non-empty list")
    code = extract_code(item.text, language)
    if code is None:
        return Score.remark(0.0, ErrorKind.no_answer, f"no {language} code block in the completion")
    try:
        plan = plan_tests(code, language, tests)
    except ValueError as exc:
        return Score.fail(ErrorKind.invalid_item, str(exc))
    try:
        sandbox = required(ctx.resources.sandboxes, "sandboxes").get(params.backend)
        results, passes = _run_plan(sandbox, plan, code, language, params)
    except (SandboxUnavailable, ValueError) as exc:  # e.g. the docker daemon went away: null, not 0
        return Score.fail(ErrorKind.sandbox_unavailable, str(exc))

    broken = next((r for r in results if r.status == Status.sandbox_error), None)
    if broken is not None:
        return Score.fail(ErrorKind.sandbox_error, broken.error or "")
    if results and results[0].status == Status.compile_error:
        return Score.remark(0.0, ErrorKind.compile_error, results[0].compile_output.strip()[:500])
    scripted = isinstance(plan, ScriptTests)
    problems = [
        failure_message(i, r, scripted)
        for i, (r, ok) in enumerate(zip(results, passes, strict=True))
        if not ok
    ]
    if len(results) < len(tests):
        problems.append(f"stopped after test {len(results)} of {len(tests)}")
    passed = sum(passes)
    value = float(passed == len(tests)) if params.all_or_nothing else passed / len(tests)
    return Score.remark(value, ErrorKind.tests_failed, "; ".join(problems)) if problems else Score(value)


def code_reward(items: Sequence[Item], params: CodeParams, ctx: RewardContext) -> list[Score]:
    """Fraction of the item's `tests` passed by the last fenced code block of its `language`.

    Runs in the sandbox (compiled once per item for C/C++); `all_or_nothing` and `early_stop` by
    param. `errors` says what failed: no code block, compile error, test 3 timed out, ...
    """
    sandboxes = required(ctx.resources.sandboxes, "sandboxes")
    with ThreadPoolExecutor(max_workers=max(1, sandboxes.concurrency)) as executor:
        return list(executor.map(lambda item: _score_item(item, params, ctx), items))
