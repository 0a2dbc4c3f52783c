"""Run a submission against a suite in a sandbox and decide each test.

All tests of one submission run in one warm session (compiled once); checks by a checker run in a
second session after the runs, so a slot never waits for another slot.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field

from sandboxes import RunRequest, RunResult, Sandbox, Status
from service.grading.code import programs
from service.grading.code.compare import Comparison, outputs_match, parse_json, values_equal
from service.grading.code.suite import Case, Checker, Suite

CHECKER_ORDER = {"testlib": ("input", "output", "answer"), "codeforces": ("input", "answer", "output")}


@dataclass(frozen=True)
class Limits:
    time_limit_s: float
    memory_limit_mb: int
    output_limit_bytes: int = 1 << 20


@dataclass(frozen=True)
class JudgeOptions:
    comparison: Comparison
    limits: Limits
    checker_limits: Limits
    early_stop: bool = False
    max_timeouts: int | None = None
    """Stop after this many timed-out tests: a looping submission does not hold a slot for minutes."""


@dataclass
class Verdict:
    """Per test: True/False, or None when it did not run (stopped early). `failure` is an error of
    the whole item: (kind, detail) with kind `compile_error`, `sandbox_error` or `checker_error`."""

    passed: list[bool | None]
    problems: list[str] = field(default_factory=list)
    failure: tuple[str, str] | None = None


class SharedStop:
    """Set by the first failing test of any of an item's parallel parts, when stopping early."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def __bool__(self) -> bool:
        return self._event.is_set()


def judge(
    sandbox: Sandbox,
    suite: Suite,
    code: str,
    language: str,
    options: JudgeOptions,
    cases: list[tuple[int, Case]],
    stop: SharedStop | None = None,
) -> Verdict:
    """Decide `cases` ((index in the suite, case) pairs) for one submission."""
    stop = stop if stop is not None else SharedStop()
    if suite.kind == "script":
        return _judge_scripts(sandbox, suite, code, language, options, cases, stop)
    marker = secrets.token_hex(16)
    if suite.kind == "call":
        source = programs.call_program(code, language)
        stdins = [programs.call_input(suite.fn_name or "", case.args, marker) for _, case in cases]
    else:
        source, stdins = code, [case.input for _, case in cases]
    request = _request(language, source, options.limits, stdio_files=suite.stdio_files)
    timeouts = 0

    def decide(position: int, result: RunResult) -> bool | None:
        if result.status != Status.ok:
            return False
        if suite.checker is not None:
            return None  # the checker decides, after the runs
        case = cases[position][1]
        if suite.kind == "call":
            return _call_passes(result.stdout, marker, case, options.comparison)
        return any(outputs_match(result.stdout, want, options.comparison) for want in case.expected)

    def should_stop(position: int, result: RunResult) -> bool:
        nonlocal timeouts
        timeouts += result.status == Status.timeout
        failed = decide(position, result) is False
        if failed and options.early_stop:
            stop.set()
        too_slow = options.max_timeouts is not None and timeouts >= options.max_timeouts
        return bool(stop) or too_slow

    results = sandbox.run_tests(request, stdins, stop=should_stop)
    verdict = Verdict([None] * len(cases))
    failure = _run_failure(results)
    if failure is not None:
        verdict.failure = failure
        return verdict
    for position, result in enumerate(results):
        verdict.passed[position] = decide(position, result)
        if verdict.passed[position] is False:
            verdict.problems.append(_problem(cases[position][0], result, suite.kind))
    if timeouts and options.max_timeouts is not None and timeouts >= options.max_timeouts:
        verdict.problems.append(f"stopped after {timeouts} timed-out tests")
    if suite.checker is not None:
        _check(sandbox, suite.checker, options, cases, results, verdict, stop)
    return verdict


def _judge_scripts(
    sandbox: Sandbox,
    suite: Suite,
    code: str,
    language: str,
    options: JudgeOptions,
    cases: list[tuple[int, Case]],
    stop: SharedStop,
) -> Verdict:
    secret = secrets.token_hex(16)
    requests = [
        _request(
            language, programs.script_program(code, case.input, language, secret), options.limits
        ).model_copy(update={"stdin": secret + "\n"})
        for _, case in cases
    ]

    def passes(result: RunResult) -> bool:
        if result.status != Status.ok:
            return False
        return not programs.checks_secret(language) or result.stdout.rstrip().endswith(secret)

    def should_stop(position: int, result: RunResult) -> bool:
        if options.early_stop and not passes(result):
            stop.set()
        return bool(stop)

    results = sandbox.run_programs(requests, stop=should_stop)
    verdict = Verdict([None] * len(cases))
    failure = _run_failure(results)
    if failure is not None:
        verdict.failure = failure
        return verdict
    for position, result in enumerate(results):
        verdict.passed[position] = passes(result)
        if not verdict.passed[position]:
            verdict.problems.append(_problem(cases[position][0], result, "script"))
    return verdict


def _check(
    sandbox: Sandbox,
    checker: Checker,
    options: JudgeOptions,
    cases: list[tuple[int, Case]],
    results: list[RunResult],
    verdict: Verdict,
    stop: SharedStop,
) -> None:
    """Ask the checker about every test whose run ended normally."""
    order = CHECKER_ORDER[checker.protocol]
    try:
        source = programs.checker_program(checker.source, checker.language, order)
    except ValueError as exc:
        verdict.failure = ("checker_error", str(exc))
        return
    pending = [
        position
        for position, passed in enumerate(verdict.passed)
        if passed is None and position < len(results)
    ]
    if not pending:
        return
    stdins = [
        programs.checker_input(
            checker.language,
            {
                "input": cases[p][1].input,
                "output": results[p].stdout,
                "answer": cases[p][1].expected[0] if cases[p][1].expected else "",
            },
        )
        for p in pending
    ]
    request = _request(checker.language, source, options.checker_limits).model_copy(
        update={"files": checker.files}
    )

    def should_stop(index: int, result: RunResult) -> bool:
        accepted = checker_accepts(checker, result)
        if accepted is None:
            return True
        if not accepted and options.early_stop:
            stop.set()
        return bool(stop)

    checks = sandbox.run_tests(request, stdins, stop=should_stop)
    if checks and checks[0].status == Status.compile_error:
        verdict.failure = ("checker_error", "the checker does not compile: " + checks[0].compile_output[:300])
        return
    for position, check in zip(pending, checks, strict=False):
        accepted = checker_accepts(checker, check)
        if accepted is None:
            verdict.failure = ("checker_error", f"test {cases[position][0] + 1}: {_checker_trouble(check)}")
            return
        verdict.passed[position] = accepted
        if not accepted:
            verdict.problems.append(f"test {cases[position][0] + 1}: rejected by the checker")


def checker_accepts(checker: Checker, result: RunResult) -> bool | None:
    """True (accepted), False (rejected) or None (the checker itself failed)."""
    if result.status not in (Status.ok, Status.runtime_error):
        return None
    if checker.protocol == "codeforces":
        if result.status != Status.ok:
            return None
        words = result.stdout.split()
        if not words:
            return None
        try:
            points = float(words[0])
        except ValueError:
            return None
        return points in (1.0, 100.0)
    if result.exit_code == 0:
        return True
    if result.exit_code in (1, 2):  # testlib: wrong answer, presentation error
        return False
    return None


def _checker_trouble(result: RunResult) -> str:
    tail = (result.stderr or result.stdout).strip()[-300:]
    what = f"the checker failed ({result.status.value}, exit code {result.exit_code})"
    return f"{what}: {tail}" if tail else what


def _call_passes(stdout: str, marker: str, case: Case, comparison: Comparison) -> bool:
    printed = programs.call_result(stdout, marker)
    if printed is None:
        return False
    try:  # what the submission printed: JSON of any shape, nested 100000 deep, ...
        return any(values_equal(parse_json(printed), want, comparison) for want in case.expected)
    except (ValueError, RecursionError):
        return False


def _run_failure(results: list[RunResult]) -> tuple[str, str] | None:
    broken = next((r for r in results if r.status == Status.sandbox_error), None)
    if broken is not None:
        return ("sandbox_error", broken.error or "")
    if results and results[0].status == Status.compile_error:
        return ("compile_error", results[0].compile_output.strip()[:500])
    return None


def _problem(index: int, result: RunResult, kind: str) -> str:
    """`ok` runs that failed printed the wrong output, returned the wrong value or stopped early."""
    if result.status != Status.ok:
        if kind == "call" and result.status == Status.runtime_error and result.exit_code == 1:
            last = result.stderr.strip().splitlines()[-1:] or [""]
            return f"test {index + 1}: raised {last[0][:200]}"
        if kind == "call" and result.exit_code == 3:
            return f"test {index + 1}: {result.stderr.strip()[:200]}"
        return f"test {index + 1}: {result.status.value}"
    if kind == "script":
        return f"test {index + 1}: did not run to the end of the test"
    return f"test {index + 1}: {'wrong return value' if kind == 'call' else 'wrong answer'}"


def _request(
    language: str, source: str, limits: Limits, stdio_files: tuple[str, str] | None = None
) -> RunRequest:
    return RunRequest(
        language=language,
        source=source,
        time_limit_s=limits.time_limit_s,
        memory_limit_mb=limits.memory_limit_mb,
        output_limit_bytes=limits.output_limit_bytes,
        stdio_files=stdio_files,
    )
