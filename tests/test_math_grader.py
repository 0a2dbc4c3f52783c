"""The grader's verdicts, including each case where plain math-verify 0.9.0 is wrong."""

from __future__ import annotations

import json
import logging

import pytest
from math_verify import parse, verify

from service.grading.errors import GoldUnparseable
from service.grading.math.equivalence import grade, quick_verdict, sympy_verdict


def plain_verdict(gold: str, answer: str) -> bool:
    """What open-r1-style code does: parse both (gold as LaTeX) and verify."""
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    return bool(
        verify(
            parse(f"${gold}$", parsing_timeout=None),
            parse(answer, parsing_timeout=None),
            timeout_seconds=None,
        )
    )


# (gold, answer, right verdict): math-verify 0.9.0 gets each of these wrong.
FIXED = [
    ("\\frac{1}{2^{98}}", "\\frac{1}{2^{99}}", False),  # big powers compared in floating point
    ("1728", "1331 and 1728", False),  # hedged answer
    ("\\frac{2}{3}", "0.\\overline{6}", True),  # repeating decimal parsed as 0
    ("B", "(B)", True),  # multiple-choice letters
    ("B", "B)", True),
    ("\\text{Monday}", "monday", True),  # plain-text answers
    ("\\ln 2", "\\log(2)", True),  # bare \log, natural by default
]

KEPT = [
    ("3", "x = 3", True),
    ("50", "50\\%", True),
    ("5", "5 \\text{ cm}", True),
    ("[1,2)", "[1,2)", True),
    ("\\{1,2\\}", "\\{2,1\\}", True),
    ("(1,2)", "(2,1)", False),
    ("(1,2)", "(1,2)", True),
    ("\\frac{1}{2}", "0.5", True),
    ("\\sqrt{8}", "2\\sqrt{2}", True),
    ("x^2+2x+1", "(x+1)^2", True),
    ("\\pi", "3.14159", False),
    ("2^{100}", "2^{100}+1", False),
    ("B", "\\text{(B)}", True),
]


@pytest.mark.parametrize(("gold", "answer", "expected"), FIXED)
def test_fixes_over_math_verify(gold: str, answer: str, expected: bool) -> None:
    # math-verify is wrong for the answer as a model writes it, bare or in $...$.
    assert any(plain_verdict(gold, a) != expected for a in (answer, f"${answer}$"))
    assert grade(gold, answer) is expected


@pytest.mark.parametrize(("gold", "answer", "expected"), KEPT)
def test_keeps_what_math_verify_gets_right(gold: str, answer: str, expected: bool) -> None:
    assert plain_verdict(gold, f"${answer}$") == expected
    assert grade(gold, answer) is expected


def test_log_base_option() -> None:
    assert grade("\\ln 2", "\\log(2)", log_base="e") is True
    assert grade("\\ln 2", "\\log(2)", log_base="10") is False
    assert grade("\\log_{10} 2", "\\log(2)", log_base="10") is True
    assert grade("1", "\\log(2)", log_base="2") is True


def test_more_choice_and_text_rules() -> None:
    assert grade("(D)", "D") is True
    assert grade("C", "(B)") is False
    assert grade("E", "(E) 42") is True
    assert grade("odd", "\\text{even}") is False


def test_unparseable_gold() -> None:
    with pytest.raises(GoldUnparseable):
        grade("", "5")


@pytest.mark.parametrize(
    ("gold", "answer", "expected"),
    [
        ("18", "18", True),
        ("18", "18.0", True),
        ("1800", "1,800", True),
        ("18", "17", False),
        ("12.5", "12.5\\%", True),
        ("42", "\\$42", True),
        ("\\frac{1}{2}", "\\frac{1}{2}", True),
        ("\\frac{1}{2}", "0.5", True),
        ("\\frac{3}{4}", "\\frac{6}{8}", True),
        ("\\frac{3}{4}", "3/4", True),
        ("\\frac{3}{4}", "\\frac{4}{3}", False),
        ("(1, -2)", "(1,-2)", True),
        ("(1, 2)", "(2, 1)", False),
        ("\\frac{1}{3}", "0.333", None),  # decimals vs fractions: rounding rules are the grader's
        ("\\sqrt{2}", "1.414", None),
        ("50", "0.5", False),
    ],
)
def test_fast_path(gold: str, answer: str, expected: bool | None) -> None:
    assert quick_verdict(gold, answer) is expected


def test_eval_set_is_large_labeled_and_varied() -> None:
    from bench.math_accuracy import EVAL_SET

    cases = [json.loads(line) for line in EVAL_SET.read_text().splitlines()]
    assert len(cases) >= 300
    assert {"gold", "completion", "correct"} <= cases[0].keys()
    assert 0.3 < sum(c["correct"] for c in cases) / len(cases) < 0.8
    assert len({c["category"] for c in cases}) >= 12


@pytest.mark.parametrize(
    ("gold", "answer", "expected"),
    [
        ("\\frac{\\pi}{4}", "45^\\circ", True),  # degrees vs radians, both ways
        ("45^\\circ", "\\frac{\\pi}{4}", True),
        ("\\frac{\\pi}{3}", "45^\\circ", False),
        ("6.02\\times10^{23}", "6.02e23", True),  # scientific notation
        ("6.02\\times10^{23}", "6.02E+23", True),
        ("6.02\\times10^{23}", "6.02e22", False),
        ("[-1, 1]", "-1 \\le x \\le 1", True),  # an inequality chain for an interval
        ("[-1, 1]", "-1 < x \\le 1", False),
        ("15\\%", "15", True),  # percent with or without the sign, both ways
        ("15", "15\\%", True),
        ("28\\%", "28 percent", True),
        ("1000", "1 000", True),  # number formats
        ("32349", "32, 349", False),  # a list, not a number
        ("Final Answer: The final answer is $28 \\%$. I hope it is correct.", "28\\%", True),  # prose gold
        ("The total is 72.\n#### 72", "72", True),  # GSM8K gold
        ("Setting x = 1 we find \\boxed{3}.", "3", True),  # worked-solution gold with a box
    ],
)
def test_more_equivalences(gold: str, answer: str, expected: bool) -> None:
    assert grade(gold, answer) is expected


@pytest.mark.parametrize(
    ("gold", "answer", "expected"),
    [
        ("10\\%", "14\\%", False),
        ("2\\sqrt{8}", "\\sqrt{32}", True),
        ("-2\\sqrt{8}", "\\sqrt{32}", False),
        ("[15, 18)", "[15,18)", True),
        ("[15, 18)", "(15, 18]", False),
        ("\\{12, 57, 2\\}", "\\{2, 12, 57\\}", True),
        ("\\{12, 57, 2\\}", "\\{12, 17\\}", False),
        (
            "\\begin{pmatrix} 16 & 13 \\\\ 6 & 1 \\end{pmatrix}",
            "\\begin{bmatrix} 16 & 13 \\\\ 6 & 1 \\end{bmatrix}",
            True,
        ),
        (
            "\\begin{pmatrix} 16 & 13 \\\\ 6 & 1 \\end{pmatrix}",
            "\\begin{pmatrix} 13 & 16 \\\\ 6 & 1 \\end{pmatrix}",
            False,
        ),
    ],
)
def test_structured_answers_are_decided_exactly_without_sympy(gold: str, answer: str, expected: bool) -> None:
    assert quick_verdict(gold, answer) is expected
    assert sympy_verdict(gold, answer) is expected  # and sympy, asked the same, agrees
