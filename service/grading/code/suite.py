"""What a dataset's test data becomes: one `Suite` per problem, whatever shape it shipped in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from service.grading.code.compare import Comparison

SuiteKind = Literal["stdio", "call", "script"]
CheckerProtocol = Literal["testlib", "codeforces"]


@dataclass(frozen=True)
class Case:
    """One test. `stdio`: `input` is stdin, `expected` the output text. `call`: `args` are the
    decoded arguments, `expected` the accepted return values (APPS's `[3]` may mean 3 or [3]).
    `script`: `input` is test code appended to the solution (an assert, a HumanEval check)."""

    input: str = ""
    expected: tuple[Any, ...] = ()
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Checker:
    """A program that decides a test. `testlib`: run as `checker input output answer`, exit code 0
    accepts (1 and 2: wrong answer / presentation error; anything else is the checker's failure).
    `codeforces` (open-r1's `generated_checker`): `checker.py input correct_output solution_output`,
    accepted when it prints 1 or 100."""

    source: str
    language: str = "python"
    protocol: CheckerProtocol = "testlib"
    files: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    kind: SuiteKind
    cases: tuple[Case, ...]
    source: str
    """Which parser read it (`apps`, `livecodebench`, `codecontests`, `codeforces`, `multipl_e`, `tests`)."""
    comparison: Comparison | None = None
    """The dataset judge's own rule; None: the request's (default `lines`)."""
    fn_name: str | None = None
    checker: Checker | None = None
    time_limit_s: float | None = None
    memory_limit_mb: int | None = None
    stdio_files: tuple[str, str] | None = None
    stub: str | None = None
    """MultiPL-E: the prompt the completion continues (the function's signature and docstring)."""
    stop_tokens: tuple[str, ...] = ()
    """MultiPL-E: where the completion ends (its evaluator cuts there before appending the tests)."""
