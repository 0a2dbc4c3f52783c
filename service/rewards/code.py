"""`code`: run the completion's program against the item's tests in a sandbox.

The tests come from the item's own fields, in the shape its dataset ships them (APPS/TACO
`input_output`, LiveCodeBench `public_test_cases`, CodeContests `public_tests`, open-r1 Codeforces
`official_tests` with `generated_checker`, MultiPL-E `tests` + `stop_tokens`, or Referee's `tests`
list): `service.grading.code.datasets` reads them, `service.grading.code.judge` runs them.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sandboxes import Sandbox, SandboxUnavailable
from sandboxes.languages import LANGUAGES, canonical
from service.grading.code import programs
from service.grading.code.compare import Comparison
from service.grading.code.compare import outputs_match as compare_outputs
from service.grading.code.datasets import PARSERS, read_suite
from service.grading.code.judge import JudgeOptions, Limits, SharedStop, Verdict, judge
from service.grading.code.programs import extract_code
from service.grading.code.suite import Case, Checker, Suite
from service.grading.errors import ErrorKind
from service.items import Item
from service.rewards.base import RewardContext, Score
from service.runtime.resources import required

__all__ = ["CodeParams", "code_reward", "extract_code", "outputs_match"]

TEST_FIELDS = tuple(dict.fromkeys(["tests", *(marker for marker, _ in PARSERS)]))
"""Item fields any of which carries test data (the `code` reward needs one)."""
TESTS_PER_PART = 8
"""With free sandbox slots, an item's tests run in parts of at least this many, in parallel."""


class CodeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    all_or_nothing: bool = Field(False, description="1.0 only if every test passes, else 0.0.")
    early_stop: bool | None = Field(
        None,
        description="Stop at the first failing test (the rest count as failed). Default: on with "
        "`all_or_nothing` (the score is 0 either way), off otherwise.",
    )
    compare: Literal["lines", "tokens"] | None = Field(
        None,
        description="`lines`: line by line, inner spacing kept; `tokens`: any whitespace. Default: "
        "the dataset judge's rule (CodeContests, Codeforces, APPS: tokens; LiveCodeBench and "
        "Referee's `tests`: lines).",
    )
    case_sensitive: bool | None = Field(None, description="Default: the dataset's (CodeContests: no).")
    float_tolerance: float | None = Field(
        None,
        ge=0,
        description="Compare numbers with a fraction or exponent within this absolute-or-relative "
        "tolerance (integers always compare exactly). Default: the dataset's (CodeContests 1e-5 "
        "absolute; APPS, LiveCodeBench and calls 1e-6; Referee's `tests` and Codeforces exact).",
    )
    time_limit_s: float = Field(5.0, gt=0, le=60, description="Per test, when the item gives none.")
    memory_limit_mb: int = Field(512, ge=32, le=8192, description="Per test, when the item gives none.")
    time_limit_factor: float = Field(
        1.0, gt=0, le=10, description="Multiplies an item's own time limit (limits are set for C++)."
    )
    max_time_limit_s: float = Field(20.0, gt=0, le=60, description="Cap on any time limit.")
    max_memory_limit_mb: int = Field(2048, ge=32, le=8192, description="Cap on any memory limit.")
    output_limit_kb: int = Field(1024, ge=1, le=65536, description="Cap on each test's stdout and stderr.")
    max_tests: int | None = Field(
        None,
        ge=1,
        description="Run at most this many tests of a suite (TACO and CodeContests average ~200): "
        "a fixed sample per problem, the same for every rollout of it. Default: all.",
    )
    max_timeouts: int | None = Field(
        3,
        ge=1,
        description="After this many timed-out tests the rest count as failed, so a looping submission "
        "holds a slot for about this many time limits. null: run them all.",
    )
    parallel_tests: bool = Field(
        True, description="Split an item's tests over free sandbox slots when the batch leaves some."
    )
    checker_time_limit_s: float = Field(10.0, gt=0, le=60)
    checker_memory_limit_mb: int = Field(1024, ge=32, le=8192)
    backend: str | None = Field(None, description="`local` or `docker`; default: the server's.")
    default_language: str = Field("python", description="When the item has no `language` field.")


def outputs_match(actual: str, expected: str, tolerance: float | None) -> bool:
    """Line by line, as `compare: lines` does (kept for callers of the earlier API)."""
    return compare_outputs(actual, expected, Comparison("lines", abs_tol=tolerance, rel_tol=tolerance))


def _comparison(suite: Suite, params: CodeParams) -> Comparison:
    base = suite.comparison or (
        Comparison(abs_tol=1e-6, rel_tol=1e-6) if suite.kind == "call" else Comparison()
    )
    if params.compare is not None:
        base = replace(base, mode=params.compare)
    if params.case_sensitive is not None:
        base = replace(base, case_sensitive=params.case_sensitive)
    if params.float_tolerance is not None:
        base = replace(base, abs_tol=params.float_tolerance, rel_tol=params.float_tolerance)
    return base


def _options(suite: Suite, params: CodeParams) -> JudgeOptions:
    seconds = suite.time_limit_s * params.time_limit_factor if suite.time_limit_s else params.time_limit_s
    megabytes = suite.memory_limit_mb or params.memory_limit_mb
    limits = Limits(
        time_limit_s=min(seconds, params.max_time_limit_s),
        memory_limit_mb=max(32, min(megabytes, params.max_memory_limit_mb)),
        output_limit_bytes=max(1024, params.output_limit_kb << 10),
    )
    checker = Limits(params.checker_time_limit_s, params.checker_memory_limit_mb, 16 << 20)
    early = params.all_or_nothing if params.early_stop is None else params.early_stop
    return JudgeOptions(_comparison(suite, params), limits, checker, early, params.max_timeouts)


def _selected(suite: Suite, max_tests: int | None) -> list[tuple[int, Case]]:
    """All cases, or a sample seeded by the test data itself (every rollout of a problem gets the
    same tests, whatever its id)."""
    cases = list(enumerate(suite.cases))
    if max_tests is None or len(cases) <= max_tests:
        return cases
    digest = hashlib.sha256(json.dumps([c.input or repr(c.args) for c in suite.cases]).encode()).digest()
    chosen = sorted(random.Random(digest).sample(range(len(cases)), max_tests))
    return [cases[i] for i in chosen]


class _Plan:
    """One item ready to run: its suite, the program, the options and the tests to run."""

    def __init__(
        self, suite: Suite, code: str, language: str, options: JudgeOptions, cases: list[tuple[int, Case]]
    ):
        self.suite, self.code, self.language, self.options, self.cases = suite, code, language, options, cases
        self.stop = SharedStop()


def _plan(item: Item, params: CodeParams) -> _Plan | Score:
    """Read the item's tests and the completion's program, or the score that says why not."""
    named = str(item.get("language") or params.default_language)
    language = canonical(named)
    if language is None:
        return Score.fail(
            ErrorKind.invalid_item, f"unknown language {named!r}; known: {', '.join(sorted(LANGUAGES))}"
        )
    try:
        suite = read_suite({**(item.model_extra or {}), "prompt": item.prompt_text})
    except ValueError as exc:
        return Score.fail(ErrorKind.invalid_item, str(exc))
    except Exception as exc:  # data no parser foresaw (JSON nested 5000 deep, ...): this item only
        return Score.fail(ErrorKind.invalid_item, f"unreadable test data: {type(exc).__name__}: {exc}")
    if suite.kind == "call" and language not in programs.CALL_LANGUAGES:
        return Score.fail(
            ErrorKind.invalid_item,
            f"call-based tests run {' or '.join(programs.CALL_LANGUAGES)}, not {language}",
        )
    if suite.kind == "script" and suite.source == "tests" and suite.stub is None and language != "python":
        return Score.fail(
            ErrorKind.invalid_item,
            "assert-style tests are Python only; use input/output tests for other languages",
        )
    code = extract_code(item.text, language)
    if suite.source == "multipl_e":
        code = (suite.stub or "") + programs.multipl_e_completion(
            item.text, code, suite.stub or "", suite.stop_tokens
        )
    elif code is None:
        return Score.remark(0.0, ErrorKind.no_answer, f"no {language} code block in the completion")
    checker = item.get("checker")
    if checker is not None:
        try:
            suite = replace(suite, checker=_checker(checker))
        except ValueError as exc:
            return Score.fail(ErrorKind.invalid_item, str(exc))
    return _Plan(suite, code, language, _options(suite, params), _selected(suite, params.max_tests))


def _checker(value: object) -> Checker:
    """An item's `checker`: Python source (testlib protocol), or `{source, language, protocol, files}`."""
    if isinstance(value, str):
        return Checker(value)
    if isinstance(value, dict) and isinstance(value.get("source"), str):
        language = canonical(str(value.get("language", "python")))
        protocol = value.get("protocol", "testlib")
        files = value.get("files") or {}
        if language not in ("python", "cpp") or protocol not in ("testlib", "codeforces"):
            raise ValueError("`checker.language` is python or cpp, `checker.protocol` testlib or codeforces")
        if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
            raise ValueError("`checker.files` maps file names to text (e.g. testlib.h)")
        return Checker(value["source"], language, protocol, files)
    raise ValueError("`checker` is program text or {source, language, protocol, files}")


def _score(plan: _Plan, verdicts: list[Verdict], params: CodeParams) -> Score:
    for verdict in verdicts:
        if verdict.failure is not None:
            kind, detail = verdict.failure
            if kind == "compile_error":
                return Score.remark(0.0, ErrorKind.compile_error, detail)
            return Score.fail(ErrorKind(kind), detail)
    passed = [p for verdict in verdicts for p in verdict.passed]
    problems = [problem for verdict in verdicts for problem in verdict.problems]
    ran = sum(p is not None for p in passed)
    total = len(plan.cases)
    if ran < total:
        problems.append(f"stopped after test {ran} of {total}")
    count = sum(p is True for p in passed)
    value = float(count == total) if params.all_or_nothing else count / total
    return Score.remark(value, ErrorKind.tests_failed, "; ".join(problems)) if problems else Score(value)


def code_reward(items: Sequence[Item], params: CodeParams, ctx: RewardContext) -> list[Score]:
    """Fraction of the item's tests passed by the last fenced code block of its `language`.

    Reads the tests as the item's dataset ships them (APPS/TACO, LiveCodeBench, CodeContests,
    Codeforces with checkers, MultiPL-E) or Referee's `tests`; stdin/stdout, function calls, file I/O;
    time and memory limits from the item. `errors` says what failed: no code block, compile error,
    test 3 timed out, ...
    """
    pool = required(ctx.resources.sandboxes, "sandboxes")
    plans = [_plan(item, params) for item in items]
    runnable = [p for p in plans if isinstance(p, _Plan)]
    if not runnable:
        return [p for p in plans if isinstance(p, Score)]
    try:
        sandbox = pool.get(params.backend)
    except (SandboxUnavailable, ValueError) as exc:  # e.g. the docker daemon went away: null, not 0
        return [
            p if isinstance(p, Score) else Score.fail(ErrorKind.sandbox_unavailable, str(exc)) for p in plans
        ]
    slots = max(1, pool.concurrency)
    spare = slots // max(1, len(runnable)) if params.parallel_tests else 1
    with ThreadPoolExecutor(max_workers=slots) as executor:
        futures: list[list[Future[Verdict]] | Score] = []
        for plan in plans:
            if isinstance(plan, Score):
                futures.append(plan)
                continue
            parts = max(1, min(spare, math.ceil(len(plan.cases) / TESTS_PER_PART)))
            size = math.ceil(len(plan.cases) / parts)
            chunks = [plan.cases[i : i + size] for i in range(0, len(plan.cases), size)]
            futures.append([executor.submit(_run_part, sandbox, plan, chunk) for chunk in chunks])
        scores = []
        for plan, pending in zip(plans, futures, strict=True):
            if isinstance(pending, Score):
                scores.append(pending)
                continue
            assert isinstance(plan, _Plan)
            try:
                scores.append(_score(plan, [f.result() for f in pending], params))
            except (SandboxUnavailable, ValueError) as exc:
                scores.append(Score.fail(ErrorKind.sandbox_unavailable, str(exc)))
        return scores


def _run_part(sandbox: Sandbox, plan: _Plan, cases: list[tuple[int, Case]]) -> Verdict:
    return judge(sandbox, plan.suite, plan.code, plan.language, plan.options, cases, plan.stop)
