from __future__ import annotations

import pytest

from service.grading.math.extraction import extract_answer


@pytest.mark.parametrize(
    ("completion", "answer", "method"),
    [
        ("so \\boxed{\\frac{1}{2}} then \\boxed{\\frac{\\sqrt{3}}{2}}.", "\\frac{\\sqrt{3}}{2}", "boxed"),
        ("nested \\boxed{\\{1, \\{2\\}\\}} ok", "\\{1, \\{2\\}\\}", "boxed"),
        ("\\boxed{a} and an unclosed \\boxed{b", "a", "boxed"),
        ("\\fbox{7}", "7", "boxed"),
        ("\\boxed 5", "5", "boxed"),
        ("<think>maybe 3</think><answer>42</answer>", "42", "answer_tag"),
        ("<answer>first</answer> <answer>\\boxed{9} since</answer>", "9", "boxed"),
        ("<answer> x = 2 </answer>", "x = 2", "answer_tag"),
        ("Thus the answer is 1331 and 1728.", "1331 and 1728", "phrase"),
        ("The answer is 3.5. Done", "3.5", "phrase"),
        ("Final answer: 7\n\nHope this helps", "7", "phrase"),
        ("The final answer is $\\frac{3}{4}$.", "$\\frac{3}{4}$", "phrase"),
        ("we get 5 apples. Then 7.", "7", "last_number"),
        ("total 1,000 dollars", "1,000", "last_number"),
        ("The cube could be 1331 or 1728", "The cube could be 1331 or 1728", "last_number"),
    ],
)
def test_extraction_order_and_rules(completion: str, answer: str, method: str) -> None:
    extraction = extract_answer(completion)
    assert extraction is not None
    assert (extraction.answer, extraction.method) == (answer, method)


def test_nothing_to_extract() -> None:
    assert extract_answer("I do not know.") is None
    assert extract_answer("") is None
