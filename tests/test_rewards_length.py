from __future__ import annotations

from pathlib import Path

import pytest

from service.items import Item
from service.rewards.base import RewardContext
from tests.helpers import score, scored


def group(lengths: list[int], name: str = "q") -> list[Item]:
    return [Item(group=name, completion="x" * n, completion_tokens=n) for n in lengths]


def kimi(length: float, shortest: float, longest: float, correct: bool) -> float:
    penalty = 0.5 - (length - shortest) / (longest - shortest)
    return penalty if correct else min(0.0, penalty)


def test_kimi_length_penalty_on_one_group() -> None:
    batch = group([100, 200, 300, 400])
    ctx = RewardContext(scores={"math": scored(1.0, 0.0, 1.0, 0.0)})
    values = score("length", batch, ctx)
    # λ = 0.5, 1/6, -1/6, -0.5; the wrong-but-short second answer is not rewarded: min(0, 1/6) = 0.
    assert values == pytest.approx([0.5, 0.0, 0.5 - 2 / 3, -0.5])
    assert values == pytest.approx(
        [kimi(n, 100, 400, c) for n, c in zip([100, 200, 300, 400], [1, 0, 1, 0], strict=True)]
    )
    all_correct = score("length", batch, RewardContext(scores={"math": scored(1, 1, 1, 1)}))
    assert all_correct == pytest.approx([0.5, 1 / 6, -1 / 6, -0.5])


def test_groups_are_penalised_separately() -> None:
    batch = group([10, 20], "a") + group([1000, 3000], "b")
    ctx = RewardContext(scores={"math": scored(1, 1, 1, 1)})
    assert score("length", batch, ctx) == pytest.approx([0.5, -0.5, 0.5, -0.5])


def test_group_defaults_to_the_prompt() -> None:
    batch = [
        Item(prompt=p, completion="x", completion_tokens=n) for p, n in (("p1", 1), ("p2", 5), ("p1", 3))
    ]
    ctx = RewardContext(scores={"math": scored(1, 1, 1)})
    assert score("length", batch, ctx) == pytest.approx([0.5, 0.0, -0.5])  # p2 is a group of one


def test_equal_lengths_give_zero() -> None:
    ctx = RewardContext(scores={"math": scored(1, 0, 1)})
    assert score("length", group([50, 50, 50]), ctx) == [0.0, 0.0, 0.0]


def test_unknown_correctness_is_null() -> None:
    ctx = RewardContext(scores={"math": scored(1, None)})
    assert score("length", group([1, 2]), ctx) == [0.5, None]


def test_correctness_from_another_reward_and_threshold() -> None:
    ctx = RewardContext(scores={"code": scored(0.5, 1.0)})
    assert score("length", group([1, 2]), ctx, correct_from="code") == [0.0, -0.5]
    assert score("length", group([1, 2]), ctx, correct_from="code", correct_threshold=0.5) == [0.5, -0.5]


def test_characters_when_no_token_counts_with_a_note() -> None:
    ctx = RewardContext(scores={"math": scored(1, 1)})
    batch = [Item(group="g", completion="ab"), Item(group="g", completion="abcdef")]
    assert score("length", batch, ctx) == [0.5, -0.5]
    assert any("characters" in note for note in ctx.notes)


def test_tokenizer_param(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, "a": 1, "b": 2}
    raw = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]").save_pretrained(tmp_path)

    batch = [
        Item(group="g", completion="a b a b"),
        Item(group="g", completion="aaaaaaaaaaaa"),
    ]  # 4 vs 1 token
    ctx = RewardContext(scores={"math": scored(1, 1)})
    assert score("length", batch, ctx, tokenizer=str(tmp_path)) == [-0.5, 0.5]  # by characters it is reversed
    assert not ctx.notes
    missing = score(
        "length", batch, RewardContext(scores={"math": scored(1, 1)}), tokenizer=str(tmp_path / "no")
    )
    assert missing == [None, None]


@pytest.mark.parametrize(("length", "expected"), [(0, 0.0), (80, 0.0), (90, -0.5), (100, -1.0), (101, -1.0)])
def test_dapo_overlong(length: int, expected: float) -> None:
    batch = [Item(completion="x", completion_tokens=length)]
    assert score("overlong", batch, max_length=100, cache_length=20) == [pytest.approx(expected)]
