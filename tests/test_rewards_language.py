from __future__ import annotations

import pytest

from service.items import Item
from tests.helpers import score


def language(
    completion: str, prompt: str = "Solve the following problem and explain each step.", **fields: str
) -> float | None:
    return score("language", [Item(prompt=prompt, completion=completion, **fields)])[0]


def test_all_english_reasoning_for_an_english_prompt() -> None:
    assert language("<think>First we add two and two. The result is four.</think> 4") == 1.0


def test_mixed_chinese_and_english_counts_han_characters_as_words() -> None:
    # 6 English words, 7 Han characters (punctuation is not a word).
    value = language("<think>First we add two and two. 然后我们得到四。</think> 4")
    assert value == pytest.approx(6 / 13)


def test_chinese_prompt_sets_the_target() -> None:
    assert language("<think>我们先把二加二。结果是四。</think> 4", prompt="求解二加二等于多少") == 1.0
    assert language(
        "<think>我们先把二加二。Then the result is four.</think> 4", prompt="求解二加二等于多少"
    ) == pytest.approx(7 / 12)


def test_english_and_spanish_are_told_apart_per_sentence() -> None:
    prompt = "Resuelve el siguiente problema de matemáticas paso a paso."
    assert (
        language("<think>Primero sumamos dos y dos. El resultado es cuatro.</think> 4", prompt=prompt) == 1.0
    )
    mixed = "<think>Primero sumamos dos y dos. Then we get the result which is four.</think> 4"
    assert language(mixed, prompt=prompt) == pytest.approx(5 / 13)


def test_target_language_field_beats_the_prompt() -> None:
    spanish = "<think>Primero sumamos dos y dos. El resultado es cuatro.</think> 4"
    assert language(spanish, target_language="en") == 0.0
    assert language(spanish, target_language="es") == 1.0


def test_code_blocks_and_formulas_are_not_a_foreign_language() -> None:
    completion = (
        "<think>We write a helper:\n```python\ndef suma(numeros):\n    return sum(numeros)  # suma\n```\n"
        "then compute $\\sum_{i=1}^n x_i$ with `suma(valores)` which gives the total.</think> 4"
    )
    assert language(completion) == 1.0


def test_cyrillic_in_english_reasoning_is_foreign() -> None:
    value = language("<think>We add the numbers. Затем получаем ответ.</think> 4")
    assert value == pytest.approx(4 / 7)


def test_no_words_at_all_is_consistent() -> None:
    assert language("<think>$x^2 + 1 = 0$, 42</think> 4") == 1.0


def test_without_think_tags_the_whole_completion_is_scored() -> None:
    assert language("The sum is four. 答案是四") == pytest.approx(4 / 8)
