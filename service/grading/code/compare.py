"""How an output is compared with the expected one, and a return value with the expected value.

Without a tolerance, tokens compare as text (testlib's default checker: `0110` is not `110`). With
one, an expected integer wants the same integer (any leading zeros, or `3.0` for `3`; never
1000000001 for 1000000000, at any size: no 4300-digit limit), and only an expected number with a
fraction or an exponent accepts a nearby value. Every line or token must match: a missing or extra
one fails.
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


def tokens_close(got: str, want: str, comparison: Comparison) -> bool:
    """Equal as numbers, when the comparison has a tolerance: exactly if `want` is an integer, within
    the tolerance if it has a fraction or an exponent (the submission's formatting cannot loosen it)."""
    if not comparison.tolerant:
        return False
    if _INTEGER.fullmatch(want):
        if _INTEGER.fullmatch(got):
            return _normal_integer(got) == _normal_integer(want)
        return len(want) <= _MAX_INT_DIGITS and _float(got) == int(want)
    x, y = _float(got), _float(want)
    return x is not None and y is not None and numbers_close(x, y, comparison)


def _float(token: str) -> float | None:
    try:
        return float(token)
    except ValueError:
        return None


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
    """A return value against the data's value: lists and tuples alike, dict keys exact, an expected
    float by the tolerance, an expected int exactly (`3.0` is 3), a bool only equal to a bool."""
    if isinstance(want, bool) or isinstance(got, bool):
        return type(got) is type(want) and got == want
    if isinstance(want, BigInt) or isinstance(got, BigInt):
        integers = all(type(value) is BigInt or isinstance(value, int) for value in (got, want))
        return integers and _normal_integer(str(got)) == _normal_integer(str(want))
    if isinstance(want, int | float) and isinstance(got, int | float):
        if isinstance(want, int):
            return got == want  # exact, also for a float `got` (Python compares them without rounding)
        try:
            return float(got) == want or numbers_close(float(got), want, comparison)
        except OverflowError:  # an int past float's range is no float's neighbour
            return False
    if isinstance(want, list | tuple) and isinstance(got, list | tuple):
        return len(got) == len(want) and all(
            values_equal(a, b, comparison) for a, b in zip(got, want, strict=True)
        )
    if isinstance(want, dict) and isinstance(got, dict):
        return got.keys() == want.keys() and all(values_equal(got[k], want[k], comparison) for k in want)
    if isinstance(want, str) and isinstance(got, str):
        return got == want if comparison.case_sensitive else got.lower() == want.lower()
    return want is None and got is None
