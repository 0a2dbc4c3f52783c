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
MAX_SECTION_CHARS = 50000
MAX_DIGITS = 400
MAX_NESTING = 40
MAX_EXPONENT_DIGITS = 6
MAX_TOWER_LOG10 = 5.0
"""a^(b^c) is refused when b^c > 10^5: the value would have more than ~100 000 digits."""
MAX_FACTORIAL = 10000
MAX_BINOMIAL_DIGITS = 4

_DIGIT_RUN = re.compile(rf"\d{{{MAX_DIGITS + 1},}}")
# 9^{9^{9}}, 9^9^9, 9^(9^9), 3^{3^{3^{3}}}: numbers chained by `^` through braces and parentheses
_POWER_CHAIN = re.compile(r"\d+(?:\s*[})]*\s*\^\s*[{(\s]*\d+)+")
# (10^{6})!, (99999)!: a factorial of a parenthesised power or big number
_PAREN_FACTORIAL = re.compile(r"\(([^()]*)\)\s*!")
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
    for chain in _POWER_CHAIN.findall(text):
        if _tower_too_big([int(n) for n in re.findall(r"\d+", chain)]):
            return "a power tower"
    if _BIG_EXPONENT.search(text):
        return f"an exponent with more than {MAX_EXPONENT_DIGITS} digits"
    if not section:  # "The answer is 10001!" in prose is enthusiasm, not a factorial
        for match in _FACTORIAL.finditer(text):
            if int(match.group(1)) > MAX_FACTORIAL:
                return f"the factorial of {match.group(1)}"
        for match in _PAREN_FACTORIAL.finditer(text):
            if "^" in match.group(1) or re.search(rf"\d{{{len(str(MAX_FACTORIAL)) + 1},}}", match.group(1)):
                return f"the factorial of ({match.group(1)})"
    for match in _BINOMIAL.finditer(text):
        arguments = match.group(1) + match.group(2)
        if "^" in arguments or any(
            len(number) > MAX_BINOMIAL_DIGITS for number in re.findall(r"\d+", arguments)
        ):
            return "a binomial of a huge number"
    if not section and len(_TERMS.findall(text)) > MAX_TERMS:
        return f"more than {MAX_TERMS} operations"
    return None


def _tower_too_big(numbers: list[int]) -> bool:
    """a^b^c^… (right-associative) whose exponent above the base exceeds 10^5, i.e. a value with more
    than ~100 000 digits; computed on logarithms, never on the numbers."""
    if len(numbers) < 3:
        return False  # a^b alone is the big-exponent rule's
    exponent_log10 = math.log10(max(numbers[-1], 1))
    for base in reversed(numbers[1:-1]):
        if base <= 1:
            return False
        if exponent_log10 > 6:  # the exponent alone has more than a million digits
            return True
        exponent_log10 = (10**exponent_log10) * math.log10(base)
    return exponent_log10 > MAX_TOWER_LOG10
