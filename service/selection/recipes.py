"""Which scored rollouts become training data, per rollout group.

An item passes when every score named in `where` is present and at least its minimum (a penalty
such as `repetition`, which is at most 0, takes a negative minimum). Then, per group:

- `rejection` (DeepSeek-R1's SFT stage): the best `k` passing items by reward, shorter first on
  ties, near-duplicates dropped;
- `shortest` (Kimi k1.5's long2short, SFT form): the `k` shortest passing items;
- `pairs` (long2short as DPO/ORPO pairs): chosen = a passing item, shortest first; rejected = a
  failing item, or a passing one at least `min_length_ratio` times longer than the chosen; at most
  `max_pairs` per group, each rejected used once, the choice among equals seeded by `seed`.

Lengths are counted as the length reward counts them (`service.grading.lengths`).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field

from service.grading.lengths import Unit, measure_lengths
from service.items import Item

Recipe = Literal["rejection", "shortest", "pairs"]


class ScoredItem(Item):
    """A `/v1/rewards` item with what Referee gave it: its `scores` (and `reward`)."""

    scores: dict[str, float | None] = Field(default_factory=dict, description="Component scores, by reward.")
    reward: float | None = Field(None, description="The weighted reward.")


@dataclass(frozen=True)
class Selection:
    """What a recipe chose: indices into the items (`kept`, or `pairs` of chosen and rejected)."""

    kept: list[int] = field(default_factory=list)
    pairs: list[tuple[int, int]] = field(default_factory=list)
    groups: int = 0
    groups_without_rows: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    lengths: list[int] = field(default_factory=list)
    unit: Unit = "tokens"


def failed_rule(scores: Mapping[str, float | None], where: Mapping[str, float]) -> str | None:
    """The first rule an item breaks (`math < 1`, `no language score`), or None when it passes."""
    for name, minimum in where.items():
        value = scores.get(name)
        if value is None:
            return f"no {name} score"
        if value < minimum:
            return f"{name} < {minimum:g}"
    return None


def shingles(text: str) -> set[str]:
    words = re.findall(r"\w+", text.lower())
    return {" ".join(words[i : i + 3]) for i in range(max(len(words) - 2, 1))}


def near_duplicate(a: set[str], b: set[str], threshold: float) -> bool:
    """Word-trigram Jaccard similarity at or over the threshold (1.0: identical words only)."""
    union = len(a | b)
    return union == 0 or len(a & b) / union >= threshold


def group_seed(seed: int, group: str) -> int:
    """Per group, so a group's pairs do not change when other groups are added or removed."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{group}".encode()).digest()[:8], "big")


def select(
    items: Sequence[ScoredItem],
    recipe: Recipe,
    where: Mapping[str, float],
    *,
    k: int = 1,
    min_length_ratio: float = 1.5,
    max_pairs: int = 1,
    dedupe_threshold: float | None = 0.9,
    seed: int = 0,
    tokenizer: str | None = None,
) -> Selection:
    """Choose per group (`Item.group`, else the prompt) by the recipe. Deterministic."""
    texts = [item.text for item in items]  # the final answer, as the length reward measures it
    lengths, unit = measure_lengths(texts, [item.completion_tokens for item in items], tokenizer)
    groups: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault(item.group_key, []).append(index)
    dropped: Counter[str] = Counter()
    kept: list[int] = []
    pairs: list[tuple[int, int]] = []
    empty = 0
    for group, members in groups.items():
        rules = {i: failed_rule(items[i].scores, where) for i in members}
        passing = [i for i in members if rules[i] is None]
        dropped.update(rule for rule in rules.values() if rule is not None)
        if recipe == "pairs":
            chosen = group_pairs(
                passing,
                [i for i in members if rules[i] is not None],
                lengths,
                min_length_ratio,
                max_pairs,
                random.Random(group_seed(seed, group)),
            )
            pairs += chosen
            empty += not chosen
            continue
        if recipe == "rejection":
            order = sorted(passing, key=lambda i: (-(items[i].reward or 0.0), lengths[i], i))
        else:
            order = sorted(passing, key=lambda i: (lengths[i], -(items[i].reward or 0.0), i))
        taken: list[int] = []
        seen: list[set[str]] = []
        for index in order:
            words = shingles(texts[index])
            if dedupe_threshold is not None and any(near_duplicate(words, s, dedupe_threshold) for s in seen):
                dropped["near-duplicate"] += 1
                continue
            if len(taken) == k:
                dropped[f"beyond k={k}"] += 1
                continue
            taken.append(index)
            seen.append(words)
        kept += taken
        empty += not taken
    return Selection(sorted(kept), pairs, len(groups), empty, dict(dropped), lengths, unit)


def group_pairs(
    passing: list[int],
    failing: list[int],
    lengths: Sequence[int],
    ratio: float,
    limit: int,
    rng: random.Random,
) -> list[tuple[int, int]]:
    """Chosen shortest first; each takes an unused rejected (failing, or passing and `ratio` times
    longer), picked at random among those, until `limit` pairs."""
    pairs: list[tuple[int, int]] = []
    used: set[int] = set()
    for chosen in sorted(passing, key=lambda i: (lengths[i], i)):
        if len(pairs) == limit:
            break
        options = [i for i in failing if i not in used]
        options += [
            i
            for i in passing
            if i != chosen and i not in used and lengths[i] >= ratio * max(lengths[chosen], 1)
        ]
        if not options:
            continue
        rejected = rng.choice(sorted(options))
        used.update((chosen, rejected))
        pairs.append((chosen, rejected))
    return pairs
