"""Static guards: answers no grader should hand to sympy, refused in microseconds with a reason.

A policy under RL finds inputs that make a symbolic engine hang or eat memory: power towers, huge
factorials and binomials, numbers with hundreds of thousands of digits, thousands of nested braces,
sums of thousands of terms, NUL bytes. None of them is a plausible final answer, so they score 0
with the reason in `errors`, and they never occupy a worker until its timeout.
"""

from __future__ import annotations

import math
import re

MAX_ANSWER_CHARS = 2000
"""A final answer longer than this is not an answer (a section of prose may be longer: see below)."""
MAX_SECTION_CHARS = 20000
MAX_DIGITS = 400
MAX_NESTING = 40
MAX_EXPONENT_DIGITS = 6
MAX_TOWER_LOG10 = 5.0
"""a^(b^c) is refused when b^c > 10^5: the value would have more than ~100 000 digits."""
MAX_FACTORIAL = 10000
MAX_BINOMIAL_DIGITS = 4

_DIGIT_RUN = re.compile(rf"\d{{{MAX_DIGITS + 1},}}")
# 9^{9^{9}}, 9^9^9: a numeric exponent that is itself a power
_POWER_TOWER = re.compile(r"\^\s*\{?\s*(\d+)\s*\}?\s*\^\s*\{?\s*(\d+)")
# x^{12345}, 10^123456: exponents with more digits than MAX_EXPONENT_DIGITS
_BIG_EXPONENT = re.compile(rf"\^\s*\{{?\s*-?\d{{{MAX_EXPONENT_DIGITS + 1},}}")
_FACTORIAL = re.compile(r"(\d+)\s*!")
_GROUP = r"\{((?:[^{}]|\{[^{}]*\})*)\}"  # a brace group, one level of nesting inside
_BINOMIAL = re.compile(rf"\\[dt]?binom\s*{_GROUP}\s*{_GROUP}")
_TERMS = re.compile(r"[+\-*/]")
MAX_TERMS = 300


def too_complex(text: str, *, section: bool = False) -> str | None:
    """Why `text` must not reach sympy, or None. `section`: a whole answer section (prose allowed)."""
    if "\x00" in text:
        return "contains a NUL byte"
    limit = MAX_SECTION_CHARS if section else MAX_ANSWER_CHARS
    if len(text) > limit:
        return f"{len(text)} characters (more than {limit})"
    if _DIGIT_RUN.search(text):
        return f"a number with more than {MAX_DIGITS} digits"
    depth = deepest = 0
    for char in text:
        if char in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "})]":
            depth = max(0, depth - 1)
    if deepest > MAX_NESTING:
        return f"nested {deepest} levels deep (more than {MAX_NESTING})"
    for match in _POWER_TOWER.finditer(text):
        base, exponent = int(match.group(1)), int(match.group(2))
        if base > 1 and exponent * math.log10(base) > MAX_TOWER_LOG10:
            return "a power tower"
    if _BIG_EXPONENT.search(text):
        return f"an exponent with more than {MAX_EXPONENT_DIGITS} digits"
    for match in _FACTORIAL.finditer(text):
        if int(match.group(1)) > MAX_FACTORIAL:
            return f"the factorial of {match.group(1)}"
    for match in _BINOMIAL.finditer(text):
        arguments = match.group(1) + match.group(2)
        if "^" in arguments or any(
            len(number) > MAX_BINOMIAL_DIGITS for number in re.findall(r"\d+", arguments)
        ):
            return "a binomial of a huge number"
    if not section and len(_TERMS.findall(text)) > MAX_TERMS:
        return f"more than {MAX_TERMS} operations"
    return None
