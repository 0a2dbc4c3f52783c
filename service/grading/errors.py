"""One error model for every layer: why a score is null (or came with a remark).

Grading code raises `GradingError` (or a subclass); the worker pool and the rewards turn it into a
`ScoreError`. Users see `str(error)` ("kind: detail") in a result's `errors`; Prometheus sees the
kind alone as the `kind` label of `referee_score_errors_total`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ErrorKind(str, Enum):
    timeout = "timeout"
    """The item ran past its hard time limit (its worker was killed)."""
    worker_crashed = "worker_crashed"
    """The grading process died, twice."""
    worker_error = "worker_error"
    """The grading function raised an unexpected exception."""
    pool_closed = "pool_closed"
    """The server is shutting down."""
    gold_unparseable = "gold_unparseable"
    """The gold answer cannot be read as math: the item says nothing about the policy."""
    no_answer = "no_answer"
    """The completion has no final answer or code block (scored 0, not null)."""
    too_complex = "too_complex"
    """An answer no grader should hand to sympy (a power tower, a 200 000-digit number): scored 0."""
    invalid_item = "invalid_item"
    """An item field has a shape the reward cannot use."""
    sandbox_unavailable = "sandbox_unavailable"
    sandbox_error = "sandbox_error"
    compile_error = "compile_error"
    checker_error = "checker_error"
    """The item's checker crashed, timed out or answered outside its protocol: no verdict."""
    tests_failed = "tests_failed"
    """Some tests did not pass (the score says how many did)."""
    not_followed = "not_followed"
    """Some instructions were not followed (the detail lists them, the score says how many were)."""
    invalid_tool_call = "invalid_tool_call"
    """Some tool calls were invalid (the detail lists them; the score is the share that were valid)."""
    dependency_failed = "dependency_failed"
    """A reward this one reads has no score for the item."""
    tokenizer_unavailable = "tokenizer_unavailable"
    model_error = "model_error"
    """The reward model gave no verdict."""
    judge_unavailable = "judge_unavailable"
    """The served judge model failed, timed out or refused past its retries: no verdict (never a 0)."""
    judge_unparsable = "judge_unparsable"
    """The judge answered, but no verdict could be read from its answer."""
    judge_reasons = "judge_reasons"
    """A remark: what the judge said, when the request asked (`explain`)."""
    judge_decided = "judge_decided"
    """A remark: the rule grader could not decide and the judge did (the detail says why)."""
    grader_error = "grader_error"
    """An OpenAI-style grader raised one of its error flags (named in the detail)."""
    non_finite = "non_finite"
    internal_error = "internal_error"
    """A bug in a reward: reported per item, never a 500."""


@dataclass(frozen=True, slots=True)
class ScoreError:
    kind: ErrorKind
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.detail}" if self.detail else self.kind.value


class GradingError(Exception):
    """Raised by domain code for an item it cannot grade; carries the kind users and metrics see."""

    kind: ErrorKind = ErrorKind.internal_error

    def __init__(self, detail: str = "", kind: ErrorKind | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if kind is not None:
            self.kind = kind

    @property
    def error(self) -> ScoreError:
        return ScoreError(self.kind, self.detail)


class GoldUnparseable(GradingError):
    kind = ErrorKind.gold_unparseable
