"""Decide whether an extracted answer equals the gold answer.

math-verify does the parsing and most of the comparison; this module adds the cases where its
verdict is wrong (see `grade`). `quick_verdict` decides the easy cases in microseconds; the rest
(`sympy_verdict`) runs inside worker processes (`service.runtime.worker_pool`) that the service kills
on timeout, so math-verify's own `signal.alarm` timeouts are switched off here.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache
from typing import Any, Literal

import sympy
from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

from service.grading.errors import GoldUnparseable
from service.grading.math.extraction import choice_in_prose, last_boxed, last_number
from service.grading.math.guards import too_complex

LogBase = Literal["e", "10", "2"]

# math-verify warns on every call that its timeouts are disabled: the pool enforces them instead.
logging.getLogger("math_verify").setLevel(logging.ERROR)

_EXTRACTION = (LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig())
# math-verify's default extraction, for answer sections Referee's own rules found nothing in.
_SECTION_EXTRACTION = (LatexExtractionConfig(), ExprExtractionConfig())
_MATH_IN_PROSE = re.compile(r"[$\\%^{}=<>]|percent|pct|\d\s*[eE][+-]?\d|[a-z]\d|\d[a-z]", re.I)
_PERCENT = re.compile(r"(.+?)\\?%")
_SURD = re.compile(r"(-?)(\d*)\\sqrt(?:\{(\d+)\}|(\d))")  # `\sqrt32` is √3·2: one digit without braces
_INTERVAL = re.compile(r"([\[(])([^,]+),([^,]+)([\])])")
_SET = re.compile(r"\\\{(.+)\\\}")
_MATRIX = re.compile(r"\\begin\{[pbB]?matrix\}(.+)\\end\{[pbB]?matrix\}")  # not vmatrix: a determinant
# A gold number in a local format: a decimal comma (`1,22`, `0,111`) or spaces between thousands.
_LOCAL_NUMBER = re.compile(r"-?(?:0,\d+|\d+,(?!\d{3}(?!\d))\d+|\d{1,3}(?: \d{3})+)(?:\.\d+)?")
_GSM8K_FINAL = re.compile(r"####\s*(.+?)\s*$", re.M)
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ|\\degree|°")
# 6.02e23, 1.5E-7: math-verify reads the mantissa alone.
_SCIENTIFIC = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)[eE]([+-]?\d+)(?![\w.])")
_WRAPPERS = re.compile(r"\\(?:boxed|text|textbf|mathrm|mathbf|textit|operatorname)\s*\{([^{}]*)\}")
_PLAIN_NUMBER = re.compile(r"-?(?:\d+|[1-9]\d{0,2}(?:,\d{3})+)(?:\.\d+)?")
_FRACTION = re.compile(r"(-?)(?:\\[dt]?frac(?:\{(\d+)\}\{(\d+)\}|(\d)(\d))|(\d+)/(\d+))")
_CHOICE = re.compile(r"\(?\s*([A-J])\s*\)?(?:[.:]|\s|$)")
_REPEATING = re.compile(r"(-?)(\d*)\.(\d*)\\(?:overline|bar)\s*\{(\d+)\}")
_BARE_LOG = re.compile(r"\\log(?![_a-zA-Z])")
# A phrase with a word of four letters or more ("Jane started 3 hours ago") is prose, not math.
_PROSE_WORD = re.compile(r"[A-Za-z]{4,}")
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")
_DIGITS_APART = re.compile(r"\d\s+\d")
_SPACED_THOUSANDS = re.compile(r"(?<=\d) (?=\d{3}(?!\d))")
# "28 percent", "28 pct": the percent sign in words.
_PERCENT_WORDS = re.compile(r"\s*(?:\\text\{\s*)?\b(?:percent(?:age)?|pct)\b\}?", re.I)
_HEDGE_SPLIT = re.compile(r"\s*(?:,?\s*\\?(?:text\{\s*)?\b(?:and|or)\b\}?\s*|;\s*|,\s+)")


def strip_markup(text: str) -> str:
    """Drop `$`, `\\text{}`-style wrappers, `\\left/\\right`, spacing commands and a trailing period."""
    # `$` anywhere is a math delimiter (`\\$` is money, dropped below); `11,\\! 111` has a thin space.
    text = re.sub(r"\\!\s*|(?<!\\)\$", "", text).strip()
    for _ in range(3):
        text = _WRAPPERS.sub(r"\1", text)
    text = re.sub(r"\\(?:left|right)\b|\\[,;:! ]|\\displaystyle|\\\$", "", text)
    return text.strip().rstrip(".").strip()


def _same_text(gold: str, answer: str) -> bool:
    return strip_markup(gold).replace(" ", "") == strip_markup(answer).replace(" ", "")


def plain_number(text: str) -> Decimal | None:
    """`42`, `-0.5`, `1,000`, `1 000` (a space between groups of three); `32, 349` is a list, not one."""
    text = _SPACED_THOUSANDS.sub("", strip_markup(text))
    if not _PLAIN_NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def rational(text: str) -> Fraction | None:
    """An integer, decimal or fraction (`3`, `-0.25`, `3/4`, `\\frac{3}{4}`, `\\dfrac34`), exactly."""
    original, text = text, strip_markup(text)
    if _DIGITS_APART.search(text):  # `3 1/2` is not 31/2 (plain numbers with spaced thousands: below)
        number = plain_number(original)
        return Fraction(number) if number is not None else None
    text = text.replace(" ", "")
    match = _FRACTION.fullmatch(text)
    if match:
        sign, digits = match.group(1), [g for g in match.groups()[1:] if g is not None]
        numerator, denominator = digits
        if int(denominator) == 0:
            return None
        value = Fraction(int(numerator), int(denominator))
        return -value if sign else value
    number = plain_number(original)
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
    if _same_text(gold, answer):
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
    percent = _PERCENT.fullmatch(strip_markup(answer).replace(" ", ""))
    if gold_number is not None and percent and plain_number(percent.group(1)) == gold_number:
        return True  # "12.5%" for gold 12.5: the percent sign is the unit (0.125 is left to sympy)
    gold_form, answer_form = exact_form(gold), exact_form(answer)
    if gold_form is not None and answer_form is not None and gold_form[0] == answer_form[0]:
        return gold_form == answer_form
    return None


def exact_form(text: str) -> tuple[str, Any] | None:
    """A canonical exact value for the structured answers math datasets are full of, so two of the
    same kind compare without sympy: a percentage, a surd `a\\sqrt{b}`, an interval, a set or a
    matrix of rationals. None for anything else (or anything with a decimal point, whose rounding
    rules are sympy's to apply)."""
    raw, text = text, strip_markup(text).replace(" ", "")
    if "." in text:
        return None
    if match := _PERCENT.fullmatch(text):
        value = rational(match.group(1))
        return ("percent", value) if value is not None else None
    if match := _SURD.fullmatch(text):
        sign, coefficient, braced, digit = match.groups()
        square = Fraction(int(coefficient or 1)) ** 2 * int(braced or digit)
        return "surd", -square if sign else square
    if match := _INTERVAL.fullmatch(text):
        low, high = rational(match.group(2)), rational(match.group(3))
        return ("interval", (match.group(1), low, high, match.group(4))) if None not in (low, high) else None
    if match := _SET.fullmatch(text):
        members = [rational(part) for part in match.group(1).split(",")]
        return ("set", frozenset(members)) if None not in members else None
    if match := _MATRIX.fullmatch(raw.replace(" ", "").strip("$")):  # before `strip_markup` eats `\\ `
        rows = [[rational(cell) for cell in row.split("&")] for row in match.group(1).split("\\\\") if row]
        cells = [cell for row in rows for cell in row]
        return ("matrix", tuple(tuple(row) for row in rows)) if cells and None not in cells else None
    return None


def choice_letter(text: str) -> str | None:
    """`B`, `(B)`, `B)`, `\\text{(B)}`, `(B) 42` -> "B"; None when another choice letter stands in the
    text too (`A or B`, `A B C D`: hedging)."""
    text = strip_markup(text)
    match = _CHOICE.match(text)
    if match is None or re.search(r"\b[A-J]\b", text[match.end() :]):
        return None
    return match.group(1)


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


def _prepare(text: str, log_base: LogBase) -> str:
    """What math-verify misreads, rewritten: repeating decimals, scientific notation, a bare log."""
    text = repeating_decimals_to_fractions(text)
    text = _SCIENTIFIC.sub(r"\1\\times 10^{\2}", text)
    text = _PERCENT_WORDS.sub("%", text)
    if log_base == "e":
        return _BARE_LOG.sub(r"\\ln", text)
    if log_base == "2":
        return _BARE_LOG.sub(r"\\log_{2}", text)
    return text


def prepare_latex(text: str, log_base: LogBase) -> str:
    text = _prepare(text, log_base)
    if "$" not in text and "\\boxed" not in text:
        text = f"${text}$"
    return text


def parse_answer(text: str, log_base: LogBase) -> list[Any]:
    return parse(prepare_latex(text, log_base), extraction_config=_EXTRACTION, parsing_timeout=None)


@lru_cache(maxsize=4096)
def parse_gold(gold: str, log_base: LogBase) -> list[Any]:
    """Gold answers repeat across a GRPO group (and across steps), so each is parsed once per worker.
    A gold number in a local format (`1,22`, `1 000`) is read as math-verify reads plain text;
    everything else (lists such as `-1, 3` included) as LaTeX."""
    if _LOCAL_NUMBER.fullmatch(gold.strip()):
        return parse(_prepare(gold, log_base), extraction_config=_SECTION_EXTRACTION, parsing_timeout=None)
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
    parts = [p for p in _HEDGE_SPLIT.split(" ".join(strip_markup(answer)[:2000].split())) if p.strip()]
    return len(parts) > 1 and all(re.search(r"\d", p) for p in parts)


def gold_answer(gold: str) -> str:
    """A gold given as a whole worked solution (as open-r1 passes NuminaMath's `solution` column):
    its final answer, from the last `\\boxed{}` or a GSM8K `#### 72` line; other golds as they are
    (math-verify's parser finds "the final answer is $…$" in prose golds)."""
    boxed = last_boxed(gold)
    if boxed is not None:
        return boxed
    hashes = _GSM8K_FINAL.search(gold)
    return hashes.group(1).strip() if hashes else gold


def grade(gold: str, answer: str, log_base: LogBase = "e") -> bool:
    """Is `answer` equal to `gold`? Raises `GoldUnparseable`. Fixes over plain `math_verify.verify`:

    - exact numbers (1/2^99 vs 1/2^98) are compared exactly, never after float rounding;
    - several values for a single-valued gold ("1331 and 1728") are wrong, not "contains the gold";
    - repeating decimals `0.\\overline{6}` are read as fractions;
    - multiple-choice letters and word answers are compared as such;
    - degrees and radians (`45^\\circ` for `\\frac{\\pi}{4}`), scientific notation (`6.02e23`);
    - a bare `\\log` has the base `log_base` (natural by default, as in most math datasets).
    """
    quick = quick_verdict(gold_answer(gold), answer)
    return quick if quick is not None else sympy_verdict(gold, answer, log_base)


def _label_verdict(gold: str, answer: str | None, prose: str = "") -> bool | None:
    """Golds that are a choice letter or a word are compared as such: the extracted `answer`, else the
    whole `prose` when it is just the label, else a letter stated in it ("I pick option C"); None for
    math golds."""
    gold = gold_answer(gold)
    reading = answer if answer is not None else prose
    gold_choice = choice_letter(gold)
    if gold_choice is not None and len(strip_markup(gold).strip("() ")) == 1:
        bare = answer is not None or len(strip_markup(prose).strip("(). ")) == 1
        return (choice_letter(reading) if bare else choice_in_prose(prose)) == gold_choice
    gold_text = plain_text(gold)
    if gold_text is not None:
        return plain_text(reading) == gold_text
    return None


def _gold_parsed(gold: str, log_base: LogBase) -> list[Any]:
    parsed = parse_gold(gold, log_base)
    if not parsed:
        raise GoldUnparseable()
    return parsed


def sympy_verdict(gold: str, answer: str, log_base: LogBase = "e") -> bool:
    """The slow part of `grade`, for pairs `quick_verdict` left undecided."""
    label = _label_verdict(gold, answer)
    if label is not None:
        return label
    gold_parsed = _gold_parsed(gold, log_base)
    return _compare(gold, gold_parsed, answer, parse_answer(answer, log_base))


def section_verdict(
    gold: str, section: str, phrase: str | None = None, log_base: LogBase = "e", use_last_number: bool = True
) -> bool:
    """For an answer section where Referee's strong rules (a box, an `<answer>` block) found nothing:
    the "answer is" `phrase` when it states math (one reading only: no second chance elsewhere in
    the section), else math-verify's own extraction (LaTeX in any math delimiters, relations, percent
    words, number formats, ...) with Referee's fixes on top, else the last number."""
    label = _label_verdict(gold, phrase, prose=section)
    if label is not None:
        return label
    gold_parsed = _gold_parsed(gold, log_base)
    if phrase is not None and _PROSE_WORD.search(_LATEX_COMMAND.sub("", phrase)) is None:
        return _compare(gold, gold_parsed, phrase, parse_answer(phrase, log_base))
    closing = last_number(section)
    if _single_value(gold_parsed) and closing is not None and is_hedged(closing):
        return False  # "The cube could be 1331 or 1728": several values offered
    found = parse(_prepare(section, log_base), extraction_config=_SECTION_EXTRACTION, parsing_timeout=None)
    if found:
        return _compare(gold, gold_parsed, str(found[-1]), found)
    return use_last_number and closing is not None and grade(gold, closing, log_base)


def _compare(gold: str, gold_parsed: list[Any], answer: str, answer_parsed: list[Any]) -> bool:
    """`gold` is the raw gold (a worked solution, maybe): its final answer decides the units."""
    if not answer_parsed:
        return False
    gold = gold_answer(gold)
    if _single_value(gold_parsed) and is_hedged(answer):
        return False
    gold_expr, answer_expr = gold_parsed[0], answer_parsed[0]
    if _exact_number(gold_expr) and _exact_number(answer_expr):
        units = Units(
            percent=("%" in answer, "%" in gold),
            degrees=(_DEGREES.search(answer) is not None, _DEGREES.search(gold) is not None),
        )
        return _exactly_equal(gold_expr, answer_expr, units)
    # A gold interval or set may be answered as an inequality chain (`-1 \\le x \\le 1` for [-1, 1]);
    # a gold written as a relation (`x \\in [-2, 7]`) keeps math-verify's stricter default.
    as_set = isinstance(gold_expr, sympy.Set)
    return bool(verify(gold_parsed, answer_parsed, timeout_seconds=None, allow_set_relation_comp=as_set))


@dataclass(frozen=True)
class Units:
    """Which side wrote a percent sign or a degree mark: `50\\%` may stand for 50 or 0.5, and
    `45^\\circ` for 45 or π/4, whichever the other side means."""

    percent: tuple[bool, bool]
    degrees: tuple[bool, bool]


def _exactly_equal(gold: sympy.Basic, answer: sympy.Basic, units: Units) -> bool:
    """Compare exact numbers at 60 significant digits, never at float precision (2^-99 is not 2^-98).

    Values that agree to 50 digits are equal: distinct closed forms that close are adversarial,
    and it spares `simplify` on radicals it may not finish.
    """
    gold, answer = gold.doit(), answer.doit()  # math-verify keeps `28\\%` as 28 * UnevaluatedExpr(1/100)
    candidates = [answer]
    if units.percent[0]:
        candidates.append(answer * 100)
    if units.percent[1]:
        candidates.append(answer / 100)
    if units.degrees[0] != units.degrees[1]:
        candidates.append(answer * sympy.pi / 180 if units.degrees[0] else answer * 180 / sympy.pi)
    for candidate in candidates:
        try:
            difference = abs(sympy.N(gold - candidate, 60))
            scale = max(abs(sympy.N(gold, 60)), abs(sympy.N(candidate, 60)), sympy.Integer(1))
            if bool(difference <= scale * sympy.Float(10, 60) ** -50):
                return True
        except TypeError:  # not a real number after all (a relational or a complex value): not equal here
            continue
    return False


@dataclass(frozen=True)
class VerdictTask:
    """One decision of the `math` reward: `gold` against a found `answer`, or, when Referee's strong
    rules found none, against the answer `section` (with the "answer is" `phrase`, if any)."""

    gold: str
    answer: str | None
    section: str = ""
    phrase: str | None = None
    log_base: LogBase = "e"
    use_last_number: bool = True

    def refusal(self) -> str | None:
        """Why this answer must not reach sympy (`guards.too_complex`), or None."""
        if self.answer is not None:
            return too_complex(self.answer)
        return too_complex(self.section, section=True)

    def quick(self) -> bool | None:
        """Decided in microseconds, in the caller's process; None: needs `slow_verdict`. A section
        in plain words (no math markup, units or exponents) holds no answer math-verify would read
        differently from the stated or last number, so that number decides either way."""
        gold = gold_answer(self.gold)
        if self.answer is not None and _same_text(gold, self.answer):
            return True
        label = _label_verdict(self.gold, self.answer or self.phrase, prose=self.section)
        if label is not None:
            return label
        if self.answer is not None:
            return quick_verdict(gold, self.answer)
        if self.phrase is not None and quick_verdict(gold, self.phrase):
            return True
        if quick_verdict(gold, self.section):
            return True
        if _MATH_IN_PROSE.search(self.section) is None:
            stated = self.phrase or (last_number(self.section) if self.use_last_number else None)
            if stated is None:
                return False
            if not is_hedged(stated):
                return quick_verdict(gold, stated)
        return None


def slow_verdict(task: VerdictTask) -> bool:
    """The rest of a task, in a worker process."""
    if task.answer is not None:
        return sympy_verdict(task.gold, task.answer, task.log_base)
    return section_verdict(task.gold, task.section, task.phrase, task.log_base, task.use_last_number)
