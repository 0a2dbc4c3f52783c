"""Build `math_eval.jsonl`: labeled (gold, completion, correct) cases for the math grader.

Every case is written out by hand below as (gold, final answer as the model writes it, correct?);
the script only wraps each answer in several realistic chain-of-thought completions. Re-run it
after editing the table: `python tests/data/build_math_eval.py`.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

# (category, gold, answer as written by the model, is it correct?)
CASES: list[tuple[str, str, str, bool]] = [
    # integers, GSM8K style
    ("integer", "18", "18", True),
    ("integer", "18", "18.0", True),
    ("integer", "18", "17", False),
    ("integer", "1800", "1,800", True),
    ("integer", "1800", "1,080", False),
    ("integer", "-7", "-7", True),
    ("integer", "-7", "7", False),
    ("integer", "42", "\\$42", True),
    ("integer", "0", "0", True),
    ("integer", "72", "72 \\text{ apples}", True),
    ("integer", "72", "27", False),
    ("integer", "1000000", "10^6", True),
    ("integer", "1000000", "10^{7}", False),
    # hedged answers are wrong
    ("hedge", "1728", "1331 \\text{ and } 1728", False),
    ("hedge", "4", "3 \\text{ or } 4", False),
    ("hedge", "12", "12", True),
    ("hedge", "5", "5, 6", False),
    # fractions and decimals
    ("fraction", "\\frac{1}{2}", "\\frac{1}{2}", True),
    ("fraction", "\\frac{1}{2}", "0.5", True),
    ("fraction", "\\frac{1}{2}", "1/2", True),
    ("fraction", "\\frac{1}{2}", "\\dfrac{1}{2}", True),
    ("fraction", "\\frac{1}{2}", "\\frac{2}{1}", False),
    ("fraction", "\\frac{3}{4}", "0.75", True),
    ("fraction", "\\frac{3}{4}", "0.7", False),
    ("fraction", "\\frac{7}{3}", "2\\frac{1}{3}", True),
    ("fraction", "\\frac{5}{12}", "\\frac{10}{24}", True),
    ("fraction", "\\frac{5}{12}", "\\frac{5}{13}", False),
    ("fraction", "0.25", "\\frac14", True),
    ("fraction", "-\\frac{2}{3}", "-\\frac{2}{3}", True),
    ("fraction", "-\\frac{2}{3}", "\\frac{2}{3}", False),
    # big exact numbers: no floating-point "equal"
    ("power", "\\frac{1}{2^{98}}", "\\frac{1}{2^{99}}", False),
    ("power", "\\frac{1}{2^{98}}", "2^{-98}", True),
    ("power", "2^{100}", "2^{100}", True),
    ("power", "2^{100}", "2^{100}+1", False),
    ("power", "18446744073709551615", "2^{64}-1", True),
    ("power", "3^{40}", "3^{41}", False),
    ("power", "10^{20}+1", "10^{20}", False),
    ("power", "\\frac{1}{3^{50}}", "3^{-50}", True),
    # repeating decimals
    ("repeating", "\\frac{2}{3}", "0.\\overline{6}", True),
    ("repeating", "\\frac{1}{3}", "0.\\overline{3}", True),
    ("repeating", "\\frac{1}{6}", "0.1\\overline{6}", True),
    ("repeating", "\\frac{1}{6}", "0.\\overline{6}", False),
    ("repeating", "\\frac{4}{33}", "0.\\overline{12}", True),
    ("repeating", "\\frac{2}{3}", "0.6", False),
    # multiple choice
    ("choice", "B", "(B)", True),
    ("choice", "B", "\\text{(B)}", True),
    ("choice", "B", "B", True),
    ("choice", "B", "\\textbf{(B)}", True),
    ("choice", "B", "(C)", False),
    ("choice", "(D)", "D", True),
    ("choice", "(D)", "(A)", False),
    ("choice", "C", "\\text{C}", True),
    ("choice", "E", "(E) 42", True),
    ("choice", "A", "B", False),
    # words
    ("text", "\\text{Monday}", "\\text{monday}", True),
    ("text", "\\text{Monday}", "\\text{Tuesday}", False),
    ("text", "odd", "\\text{odd}", True),
    ("text", "odd", "\\text{even}", False),
    ("text", "\\text{no}", "\\text{No}", True),
    ("text", "yes", "\\text{no}", False),
    # logarithms (bare \log is natural by default)
    ("log", "\\ln 2", "\\log(2)", True),
    ("log", "\\ln 2", "\\ln(2)", True),
    ("log", "\\log_2 8", "3", True),
    ("log", "\\ln 3", "\\ln 2", False),
    ("log", "2\\ln 2", "\\ln 4", True),
    # equations and variables
    ("equation", "3", "x = 3", True),
    ("equation", "3", "x = 4", False),
    ("equation", "-2", "y=-2", True),
    ("equation", "2x+1", "2x+1", True),
    ("equation", "2x+1", "1+2x", True),
    ("equation", "2x+1", "2x-1", False),
    # percentages and units
    ("percent", "50", "50\\%", True),
    ("percent", "50", "40\\%", False),
    ("percent", "12.5", "12.5\\%", True),
    ("unit", "5", "5 \\text{ cm}", True),
    ("unit", "5", "6 \\text{ cm}", False),
    ("unit", "90", "90^\\circ", True),
    ("unit", "90", "45^\\circ", False),
    # intervals, sets, tuples (tuples are ordered)
    ("interval", "[1,2)", "[1,2)", True),
    ("interval", "[1,2)", "[1,2]", False),
    ("interval", "(-\\infty, 3]", "(-\\infty,3]", True),
    ("interval", "(0,\\infty)", "(0,\\infty)", True),
    ("interval", "(0,\\infty)", "[0,\\infty)", False),
    ("set", "\\{1,2\\}", "\\{2,1\\}", True),
    ("set", "\\{1,2\\}", "\\{1,3\\}", False),
    ("tuple", "(1,2)", "(1,2)", True),
    ("tuple", "(3,-1)", "(-1,3)", False),
    ("tuple", "(3,-1)", "(3, -1)", True),
    # expressions
    ("expression", "\\sqrt{8}", "2\\sqrt{2}", True),
    ("expression", "\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}", False),
    ("expression", "(x+1)^2", "x^2+2x+1", True),
    ("expression", "\\frac{\\pi}{2}", "\\pi/2", True),
    ("expression", "\\pi", "3.14", False),
    ("expression", "2\\sqrt{3}", "\\sqrt{12}", True),
    ("expression", "\\sqrt{2}", "1.414", False),
    ("expression", "3+2i", "3+2i", True),
    ("expression", "3+2i", "3-2i", False),
    ("expression", "\\frac{1+\\sqrt{5}}{2}", "\\frac{1+\\sqrt5}{2}", True),
]

WRAPPERS = [
    ("boxed", "Let's think step by step. {work} Therefore, the final answer is $\\boxed{{{a}}}$."),
    ("answer_tag", "<think>{work}</think>\n<answer>{a}</answer>"),
    ("phrase", "{work}\nThe answer is ${a}$."),
    (
        "late_box",
        "We first try a guess of $\\boxed{{0}}$ but that fails. {work} So the answer is \\boxed{{{a}}}",
    ),
]
WORK = [
    "We set up the equation from the problem statement and simplify both sides carefully.",
    "First, list what we know. Then combine the quantities, checking each step for arithmetic slips.",
    "Substituting the given values and reducing, we obtain the expression below.",
]
# Completions with no answer a grader could find, and plain-number ones decided by the last number.
EXTRA: list[tuple[str, str, str, bool]] = [
    ("no_answer", "12", "I am not sure how to solve this problem.", False),
    ("no_answer", "\\frac{1}{2}", "<think>Thinking about halves...</think>", False),
    ("last_number", "12", "3 boxes of 4 make 12", True),
    ("last_number", "12", "3 boxes of 4 make 12 and then 2 are lost so 10", False),
    ("last_number", "1728", "The cube could be 1331 or 1728", False),
]


def main() -> None:
    rng = random.Random(0)
    rows = []
    for category, gold, answer, correct in CASES:
        for style, template in WRAPPERS:
            if style == "phrase" and ("\\text{" in answer and " " in answer):
                continue
            completion = template.format(work=rng.choice(WORK), a=answer)
            rows.append(
                {
                    "category": category,
                    "style": style,
                    "gold": gold,
                    "completion": completion,
                    "correct": correct,
                }
            )
    rows += [
        {"category": c, "style": "plain", "gold": g, "completion": t, "correct": ok} for c, g, t, ok in EXTRA
    ]
    path = Path(__file__).with_name("math_eval.jsonl")
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    print(f"wrote {len(rows)} cases to {path}")


if __name__ == "__main__":
    main()
