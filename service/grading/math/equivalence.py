"""Decide whether an extracted answer equals the gold answer.

math-verify does the parsing and most of the comparison; this module adds the cases where its
verdict is wrong (see `grade`). `quick_verdict` decides the easy cases in microseconds; the rest
(`sympy_verdict`) runs inside worker processes (`service.runtime.worker_pool`) that the service kills
on timeout, so math-verify's own `signal.alarm` timeouts are switched off here.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache
from typing import Any, Literal

import sympy
from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

from service.grading.errors import GoldUnparseable

LogBase = Literal["e", "10", "2"]

# math-verify warns on every call that its timeouts are disabled: the pool enforces them instead.
logging.getLogger("math_verify").setLevel(logging.ERROR)

_EXTRACTION = (LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig())
_WRAPPERS = re.compile(r"\\(?:boxed|text|textbf|mathrm|mathbf|textit|operatorname)\s*\{([^{}]*)\}")
_PLAIN_NUMBER = re.compile(r"-?(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d+)?")
_FRACTION = re.compile(r"(-?)(?:\\[dt]?frac(?:\{(\d+)\}\{(\d+)\}|(\d)(\d))|(\d+)/(\d+))")
_CHOICE = re.compile(r"\(?\s*([A-J])\s*\)?(?:[.:]|\s|$)")
_REPEATING = re.compile(r"(-?)(\d*)\.(\d*)\\(?:overline|bar)\s*\{(\d+)\}")
_BARE_LOG = re.compile(r"\\log(?![_a-zA-Z])")
_HEDGE_SPLIT = re.compile(r"\s*(?:,?\s*\\?(?:text\{\s*)?\b(?:and|or)\b\}?\s*|;\s*|,\s+)")


def strip_markup(text: str) -> str:
    """Drop `$`, `\\text{}`-style wrappers, `\\left/\\right`, spacing commands and a trailing period."""
    text = text.strip().strip("$").strip()
    for _ in range(3):
        text = _WRAPPERS.sub(r"\1", text)
    text = re.sub(r"\\(?:left|right)\b|\\[,;:! ]|\\displaystyle|\\\$", "", text)
    return text.strip().rstrip(".").strip()


def plain_number(text: str) -> Decimal | None:
    text = strip_markup(text).replace(" ", "")
    if not _PLAIN_NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def rational(text: str) -> Fraction | None:
    """An integer, decimal or fraction (`3`, `-0.25`, `3/4`, `\\frac{3}{4}`, `\\dfrac34`), exactly."""
    text = strip_markup(text).replace(" ", "")
    match = _FRACTION.fullmatch(text)
    if match:
        sign, digits = match.group(1), [g for g in match.groups()[1:] if g is not None]
        numerator, denominator = digits
        if int(denominator) == 0:
            return None
        value = Fraction(int(numerator), int(denominator))
        return -value if sign else value
    number = plain_number(text)
    return Fraction(number) if number is not None else None


def rational_tuple(text: str) -> tuple[Fraction, ...] | None:
    """`(1, -2/3)` as exact values, in order; None unless every element is a rational."""
    text = strip_markup(text).replace(" ", "")
    if not (text.startswith("(") and text.endswith(")")) or text.count(",") == 0:
        return None
    values = [rational(part) for part in text[1:-1].split(",")]
    exact = [v for v in values if v is not None]
    return tuple(exact) if len(exact) == len(values) else None


def quick_verdict(gold: str, answer: str) -> bool | None:
    """Decide without sympy when it is exact and safe: identical text, two rationals, two tuples of
    rationals. `None` = undecided. A decimal is only ever judged equal here: "0.333" vs 1/3 is left
    to the grader's rounding rules."""
    if strip_markup(gold).replace(" ", "") == strip_markup(answer).replace(" ", ""):
        return True
    gold_number, answer_number = plain_number(gold), plain_number(answer)
    if gold_number is not None and answer_number is not None:
        return gold_number == answer_number
    gold_value, answer_value = rational(gold), rational(answer)
    if gold_value is not None and answer_value is not None:
        if gold_value == answer_value:
            return True
        return False if "." not in gold + answer else None
    gold_tuple, answer_tuple = rational_tuple(gold), rational_tuple(answer)
    if gold_tuple is not None and answer_tuple is not None and "." not in gold + answer:
        return gold_tuple == answer_tuple
    percent = re.fullmatch(r"(.*?)\s*\\?%", strip_markup(answer))
    if gold_number is not None and percent and plain_number(percent.group(1)) == gold_number:
        return True  # "12.5%" for gold 12.5: the percent sign is the unit (0.125 is left to sympy)
    return None


def choice_letter(text: str) -> str | None:
    """`B`, `(B)`, `B)`, `\\text{(B)}`, `(B) 42` -> "B"."""
    match = _CHOICE.match(strip_markup(text))
    return match.group(1) if match else None


def plain_text(text: str) -> str | None:
    """A word answer (`Monday`, `\\text{odd}`) normalised for comparison; `None` if it is math."""
    words = strip_markup(text)
    if not re.fullmatch(r"[A-Za-z][A-Za-z \-']*", words) or len(words) < 2:
        return None
    return " ".join(words.lower().split())


def repeating_decimals_to_fractions(latex: str) -> str:
    """`0.\\overline{6}` -> `\\frac{2}{3}`; math-verify reads it as 0."""

    def replace(match: re.Match[str]) -> str:
        sign, whole, fixed, period = match.groups()
        value = Fraction(int(whole or 0)) + (Fraction(int(fixed), 10 ** len(fixed)) if fixed else 0)
        value += Fraction(int(period), (10 ** len(period) - 1) * 10 ** len(fixed))
        value = -value if sign else value
        return f"\\frac{{{value.numerator}}}{{{value.denominator}}}"

    return _REPEATING.sub(replace, latex)


def prepare_latex(text: str, log_base: LogBase) -> str:
    text = repeating_decimals_to_fractions(text)
    if log_base == "e":
        text = _BARE_LOG.sub(r"\\ln", text)
    elif log_base == "2":
        text = _BARE_LOG.sub(r"\\log_{2}", text)
    if "$" not in text and "\\boxed" not in text:
        text = f"${text}$"
    return text


def parse_answer(text: str, log_base: LogBase) -> list[Any]:
    return parse(prepare_latex(text, log_base), extraction_config=_EXTRACTION, parsing_timeout=None)


@lru_cache(maxsize=4096)
def parse_gold(gold: str, log_base: LogBase) -> list[Any]:
    """Gold answers repeat across a GRPO group (and across steps), so each is parsed once per worker."""
    return parse_answer(gold, log_base)


def _exact_number(expr: Any) -> bool:
    return isinstance(expr, sympy.Basic) and expr.is_number and not expr.has(sympy.Float)


def _single_value(parsed: list[Any]) -> bool:
    expr = parsed[0] if parsed else None
    return (
        isinstance(expr, sympy.Basic)
        and not isinstance(expr, sympy.Set | sympy.Tuple | sympy.Interval)
        and not isinstance(expr, sympy.logic.boolalg.Boolean | sympy.Eq)
    )


def is_hedged(answer: str) -> bool:
    """Several values offered at once ("1331 and 1728", "3 or 4")."""
    parts = [p for p in _HEDGE_SPLIT.split(strip_markup(answer)) if p.strip()]
    return len(parts) > 1 and all(re.search(r"\d", p) for p in parts)


def grade(gold: str, answer: str, log_base: LogBase = "e") -> bool:
    """Is `answer` equal to `gold`? Raises `GoldUnparseable`. Fixes over plain `math_verify.verify`:

    - exact numbers (1/2^99 vs 1/2^98) are compared exactly, never after float rounding;
    - several values for a single-valued gold ("1331 and 1728") are wrong, not "contains the gold";
    - repeating decimals `0.\\overline{6}` are read as fractions;
    - multiple-choice letters and word answers are compared as such;
    - a bare `\\log` has the base `log_base` (natural by default, as in most math datasets).
    """
    quick = quick_verdict(gold, answer)
    return quick if quick is not None else sympy_verdict(gold, answer, log_base)


def sympy_verdict(gold: str, answer: str, log_base: LogBase = "e") -> bool:
    """The slow part of `grade`, for pairs `quick_verdict` left undecided."""
    gold_choice = choice_letter(gold)
    if gold_choice is not None and len(strip_markup(gold).strip("() ")) == 1:
        return choice_letter(answer) == gold_choice
    gold_text = plain_text(gold)
    if gold_text is not None:
        return plain_text(answer) == gold_text

    gold_parsed = parse_gold(gold, log_base)
    if not gold_parsed:
        raise GoldUnparseable()
    if _single_value(gold_parsed) and is_hedged(answer):
        return False
    answer_parsed = parse_answer(answer, log_base)
    if not answer_parsed:
        return False
    gold_expr, answer_expr = gold_parsed[0], answer_parsed[0]
    if _exact_number(gold_expr) and _exact_number(answer_expr):
        return _exactly_equal(gold_expr, answer_expr, percent=("%" in answer, "%" in gold))
    return bool(verify(gold_parsed, answer_parsed, timeout_seconds=None))


def _exactly_equal(gold: sympy.Basic, answer: sympy.Basic, percent: tuple[bool, bool]) -> bool:
    """Compare exact numbers at 60 significant digits, never at float precision (2^-99 is not 2^-98).

    Values that agree to 50 digits are equal: distinct closed forms that close are adversarial,
    and it spares `simplify` on radicals it may not finish. `50\\%` may stand for 50 either way.
    """
    candidates = [answer]
    if percent[0]:
        candidates.append(answer * 100)
    if percent[1]:
        candidates.append(answer / 100)
    for candidate in candidates:
        difference = (gold - candidate).evalf(60)
        scale = max(abs(gold.evalf(60)), abs(candidate.evalf(60)), sympy.Integer(1))
        if difference.is_number and abs(difference) <= scale * sympy.Float(10, 60) ** -50:
            return True
    return False
