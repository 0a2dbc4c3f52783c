from __future__ import annotations

import pytest

from tests.helpers import items, score


def test_no_repetition_is_zero() -> None:
    assert score("repetition", items("one two three four five")) == [0.0]


def test_a_loop_is_penalised_by_its_share_of_repeated_ngrams() -> None:
    # 8 words -> 6 trigrams, 3 distinct ("a b c", "b c a", "c a b") -> 1 - 3/6 = 0.5
    assert score("repetition", items("a b c a b c a b")) == [pytest.approx(-0.5)]
    assert score("repetition", items("a b c a b c a b"), max_penalty=-0.2) == [pytest.approx(-0.1)]


def test_short_completions_and_ngram_size() -> None:
    assert score("repetition", items("a b")) == [0.0]
    assert score("repetition", items("a a a a a"), ngram_size=1) == [pytest.approx(-0.8)]
