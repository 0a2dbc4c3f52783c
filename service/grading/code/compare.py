"""How an output is compared with the expected one, and a return value with the expected value.

Numbers: two integer tokens compare exactly, digit by digit (no 4300-digit limit, no tolerance that
would accept 1000000001 for 1000000000); a tolerance applies only when one side has a fraction or an
exponent. Every line or token must match: a missing or extra one fails.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

_INTEGER = re.compile(r"[+-]?\d+")
_MAX_INT_DIGITS = 4000  # below CPython's int<->str limit; longer integers compare as text
CompareMode = Literal["lines", "tokens"]


@dataclass(frozen=True)
class Comparison:
    """`lines`: line by line, trailing whitespace and blank lines ignored, inner spacing kept;
    `tokens`: any whitespace separates tokens (CodeContests, testlib's default checker)."""

    mode: CompareMode = "lines"
    case_sensitive: bool = True
    abs_tol: float | None = None
    rel_tol: float | None = None

    @property
    def tolerant(self) -> bool:
        return self.abs_tol is not None or self.rel_tol is not None


def outputs_match(actual: str, expected: str, comparison: Comparison) -> bool:
    if not comparison.case_sensitive:
        actual, expected = actual.lower(), expected.lower()
    if comparison.mode == "tokens":
        return _tokens_match(actual.split(), expected.split(), comparison)
    actual_lines = [line.rstrip() for line in actual.rstrip().splitlines()]
    expected_lines = [line.rstrip() for line in expected.rstrip().splitlines()]
    if len(actual_lines) != len(expected_lines):
        return False
    return all(
        got == want or (comparison.tolerant and _tokens_match(got.split(), want.split(), comparison))
        for got, want in zip(actual_lines, expected_lines, strict=True)
    )


def _tokens_match(got: list[str], want: list[str], comparison: Comparison) -> bool:
    if len(got) != len(want):
        return False
    return all(a == b or tokens_close(a, b, comparison) for a, b in zip(got, want, strict=True))


def tokens_close(a: str, b: str, comparison: Comparison) -> bool:
    """Equal as integers (exactly) or, when either has a fraction or exponent, within the tolerance."""
    if _INTEGER.fullmatch(a) and _INTEGER.fullmatch(b):
        return _normal_integer(a) == _normal_integer(b)
    if not comparison.tolerant:
        return False
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return numbers_close(x, y, comparison)


def _normal_integer(text: str) -> str:
    sign = "-" if text.startswith("-") else ""
    digits = text.lstrip("+-").lstrip("0") or "0"
    return digits if digits == "0" else sign + digits


def numbers_close(x: float, y: float, comparison: Comparison) -> bool:
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return math.isclose(x, y, rel_tol=comparison.rel_tol or 0.0, abs_tol=comparison.abs_tol or 0.0)


class BigInt(str):
    """An integer literal too long for `int()` under CPython's digit limit, kept as normalised text."""


def parse_json(text: str) -> Any:
    """`json.loads` that keeps huge integers (as `BigInt`) instead of raising."""

    def integer(literal: str) -> int | BigInt:
        if len(literal) <= _MAX_INT_DIGITS:
            return int(literal)
        return BigInt(_normal_integer(literal))

    return json.loads(text, parse_int=integer)


def values_equal(got: Any, want: Any, comparison: Comparison) -> bool:
    """A return value against the data's value: lists and tuples alike, dict keys exact, floats by
    the tolerance, a bool only equal to a bool, an int to the same int (or a float near it)."""
    if isinstance(want, bool) or isinstance(got, bool):
        return type(got) is type(want) and got == want
    if isinstance(want, BigInt) or isinstance(got, BigInt):
        return (
            _normal_integer(str(got)) == _normal_integer(str(want))
            and _INTEGER.fullmatch(str(got)) is not None
        )
    if isinstance(want, int | float) and isinstance(got, int | float):
        if isinstance(want, int) and isinstance(got, int):
            return got == want
        return float(got) == float(want) or numbers_close(float(got), float(want), comparison)
    if isinstance(want, list | tuple) and isinstance(got, list | tuple):
        return len(got) == len(want) and all(
            values_equal(a, b, comparison) for a, b in zip(got, want, strict=True)
        )
    if isinstance(want, dict) and isinstance(got, dict):
        return got.keys() == want.keys() and all(values_equal(got[k], want[k], comparison) for k in want)
    if isinstance(want, str) and isinstance(got, str):
        return got == want if comparison.case_sensitive else got.lower() == want.lower()
    return want is None and got is None
