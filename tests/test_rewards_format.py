from __future__ import annotations

import pytest

from tests.helpers import items, score


@pytest.mark.parametrize(
    ("completion", "params", "expected"),
    [
        ("<think>reason</think>The answer is 4.", {}, 1.0),
        ("<think>\nreason\n</think>\n\n4\n", {}, 1.0),
        ("  <think>reason</think> 4", {}, 1.0),  # leading whitespace is fine
        ("Sure! <think>reason</think> 4", {}, 0.0),  # text before the reasoning
        ("<think>reason</think>", {}, 0.0),  # no answer
        ("<think>   </think> 4", {}, 0.0),  # empty reasoning
        ("<think>a</think> b <think>c</think> d", {}, 0.0),  # repeated block
        ("<think>a <think>b</think> c</think> d", {}, 0.0),  # nested
        ("reason</think> 4", {}, 0.0),  # template prefilled <think>, but the option is off
        ("reason</think> 4", {"prefilled_think": True}, 1.0),
        ("<think>reason</think> 4", {"prefilled_think": True}, 1.0),  # model repeated the tag: still fine
        ("<think>r</think><answer>4</answer>", {"answer_tag": "answer"}, 1.0),
        ("<think>r</think>\n<answer>\n4\n</answer>\n", {"answer_tag": "answer"}, 1.0),
        ("<think>r</think> 4", {"answer_tag": "answer"}, 0.0),
        ("<think>r</think><answer></answer>", {"answer_tag": "answer"}, 0.0),
        ("<think>r</think><answer>4</answer> extra", {"answer_tag": "answer"}, 0.0),
        (
            "<reasoning>r</reasoning><answer>4</answer>",
            {"think_tag": "reasoning", "answer_tag": "answer"},
            1.0,
        ),
        ("<think>r</think><answer>4</answer>", {"think_tag": "reasoning", "answer_tag": "answer"}, 0.0),
    ],
)
def test_format(completion: str, params: dict, expected: float) -> None:
    assert score("format", items(completion), **params) == [expected]


def test_format_reads_the_assistant_turns_of_chat_completions() -> None:
    chat = [{"role": "assistant", "content": "<think>r</think> 4"}]
    assert score("format", items(chat)) == [1.0]


@pytest.mark.parametrize(
    ("completion", "params", "expected"),
    [
        ("<think>r</think><answer>4</answer>", {}, 1.0),
        ("<think>r</think> 4", {}, 0.5),
        ("r</think><answer>4</answer>", {}, 0.75),
        ("r</think><answer>4</answer>", {"prefilled_think": True}, 1.0),
        ("<answer>4</answer><think>r</think>", {}, 0.5),  # out of order: only the first pair in order counts
        ("<think>r</think><think>s</think><answer>4</answer>", {}, 0.5),  # repeated reasoning tags
        ("no tags", {}, 0.0),
        ("<reasoning>r</reasoning>\n<answer>4</answer>", {"think_tag": "reasoning"}, 1.0),
    ],
)
def test_tags_partial_credit(completion: str, params: dict, expected: float) -> None:
    assert score("tags", items(completion), **params) == [expected]
