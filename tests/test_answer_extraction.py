from __future__ import annotations

import pytest

from service.grading.math.extraction import (
    Extraction,
    answer_section,
    choice_in_prose,
    extract_answer,
    final_answer,
    last_number,
)


def extract(completion: str) -> Extraction | None:
    section = answer_section(completion)
    return extract_answer(section) if section is not None else None


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
        # An intermediate result boxed on the way, then the final answer stated: the statement wins.
        (
            "so $\\boxed{255}$ in the first CD. Final Answer: The final answer is $10,455$.",
            "$10,455$",
            "phrase",
        ),
    ],
)
def test_extraction_order_and_rules(completion: str, answer: str, method: str) -> None:
    extraction = extract(completion)
    assert extraction is not None
    assert (extraction.answer, extraction.method) == (answer, method)


def test_several_boxes_are_also_read_together() -> None:
    extraction = extract("\\boxed{(2, 2)} \\quad \\text{and} \\quad \\boxed{(6, 2)}")
    assert extraction is not None and extraction.candidates == ("(6, 2)", "(2, 2), (6, 2)")
    single = extract("\\boxed{4} so \\boxed{4}")
    assert single is not None and single.candidates == ("4",)


@pytest.mark.parametrize(
    ("completion", "section"),
    [
        ("<think>the answer is \\boxed{4}</think>", ""),  # nothing after the reasoning
        ("<think>\\boxed{7}</think><answer>8</answer>", "8"),
        ("<think>still thinking \\boxed{4}", None),  # never closed: no answer at all
        ("plain \\boxed{3}", "plain \\boxed{3}"),
        ("<think>a</think> so \\boxed{42", " so "),  # a truncated box is not an answer
    ],
)
def test_only_the_answer_section_can_earn_credit(completion: str, section: str | None) -> None:
    found = answer_section(completion)
    assert (found.text if found is not None else None) == section


def test_prefilled_reasoning_without_its_end_has_no_answer() -> None:
    assert answer_section("reasoning only \\boxed{4}", prefilled=True) is None
    assert answer_section("reasoning</think> \\boxed{4}", prefilled=True).text == " \\boxed{4}"
    assert answer_section("<think>x</think> 4", think_tag=None).text == "<think>x</think> 4"


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("we get 5 apples. Then 7.", "7"),
        ("total 1,000 dollars", "1,000"),
        ("The cube could be 1331 or 1728", "The cube could be 1331 or 1728"),  # hedging kept whole
        ("code AZYUK2A", None),  # a digit inside a word is not a number
    ],
)
def test_last_number(text: str, number: str | None) -> None:
    assert last_number(text) == number


def test_choice_letters_stated_in_prose() -> None:
    assert choice_in_prose("After checking, the correct one is (B).") == "B"
    assert choice_in_prose("I pick option C: 12 meters.") == "C"
    assert choice_in_prose("I think so") is None


def test_nothing_to_extract() -> None:
    assert extract("I do not know.") is None
    assert extract("") is None
    assert final_answer("<think>hmm</think> it is 12") == "12"  # the reward model's reading
