"""Which scored rollouts become training data, per rollout group.

An item passes when every score named in `where` is present and at least its minimum (a penalty
such as `repetition`, which is at most 0, takes a negative minimum). Then, per group:

- `rejection` (DeepSeek-R1's SFT stage): the best `k` passing items by reward, shorter first on
  ties, near-duplicates dropped;
- `shortest` (Kimi k1.5's long2short, SFT form): the `k` shortest passing items;
- `pairs` (long2short as DPO/ORPO pairs): chosen = a passing item, shortest first; rejected = a
  failing item, or a passing one at least `min_length_ratio` times longer than the chosen; at most
  `max_pairs` per group, each item in one pair at most, the choice among equals seeded by `seed`.

Lengths and near-duplicates are about everything the policy wrote (every assistant turn, its
reasoning and tool calls); lengths are `completion_tokens` when every item has it, else a
tokenizer's count, else characters (`service.grading.lengths`).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field

from service.grading.lengths import Unit, measure_lengths
from service.items import Item, group_indices

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
    """The first rule an item breaks (`math < 1`, `no language score`), or None when it passes. A
    null or non-finite score fails."""
    for name, minimum in where.items():
        value = scores.get(name)
        if value is None or not math.isfinite(value):
            return f"no {name} score"
        if not value >= minimum:
            return f"{name} < {minimum:g}"
    return None


def policy_output(item: Item) -> str:
    """Everything the policy wrote: a string completion, or every assistant turn's reasoning, text
    and tool calls (two trajectories that end on the same "Done." are not duplicates)."""
    if isinstance(item.completion, str):
        return item.completion
    parts = []
    for message in item.completion:
        if message.role == "assistant":
            parts += [message.reasoning_content or "", message.text]
            parts += [json.dumps(call, sort_keys=True, default=str) for call in message.tool_calls or []]
    return "\n".join(part for part in parts if part)


def shingles(text: str) -> set[str]:
    words = re.findall(r"\w+", text.lower())
    return {" ".join(words[i : i + 3]) for i in range(max(len(words) - 2, 1))}


class Deduper:
    """Near-duplicates of what was kept: the same words (case and spacing aside) at once, else a
    word-trigram Jaccard similarity at or over the threshold. Compared with the kept texts only,
    so a group costs its size times `k`."""

    def __init__(self, threshold: float | None) -> None:
        self.threshold = threshold
        self.exact: set[str] = set()
        self.kept: list[set[str]] = []

    def duplicate(self, text: str) -> bool:
        if self.threshold is None:
            return False
        if " ".join(text.lower().split()) in self.exact:
            return True
        words = shingles(text)
        for other in self.kept:
            smaller, larger = sorted((len(words), len(other)))
            if larger and smaller / larger < self.threshold:
                continue  # Jaccard is at most the size ratio: no need to intersect
            union = len(words | other)
            if union == 0 or len(words & other) / union >= self.threshold:
                return True
        return False

    def keep(self, text: str) -> None:
        if self.threshold is not None:
            self.exact.add(" ".join(text.lower().split()))
            self.kept.append(shingles(text))


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
    texts = [policy_output(item) for item in items]
    lengths, unit = measure_lengths(texts, [item.completion_tokens for item in items], tokenizer)
    groups = group_indices(items)
    dropped: Counter[str] = Counter()
    kept: list[int] = []
    pairs: list[tuple[int, int]] = []
    empty = 0
    for group, members in groups.items():
        verdicts = {i: failed_rule(items[i].scores, where) for i in members}
        passing = [i for i in members if verdicts[i] is None]
        rules = {i: rule for i, rule in verdicts.items() if rule is not None}  # the failing ones
        failing = list(rules)
        if recipe == "pairs":
            rng = random.Random(group_seed(seed, group))
            chosen = group_pairs(
                passing, failing, lengths, texts, min_length_ratio, max_pairs, dedupe_threshold, rng
            )
            used = {i for pair in chosen for i in pair}
            dropped.update(rules[i] for i in failing if i not in used)  # a used rejected is not dropped
            pairs += chosen
            empty += not chosen
            continue
        dropped.update(rules[i] for i in failing)
        if recipe == "rejection":
            order = sorted(passing, key=lambda i: (-(items[i].reward or 0.0), lengths[i], i))
        else:
            order = sorted(passing, key=lambda i: (lengths[i], -(items[i].reward or 0.0), i))
        taken: list[int] = []
        deduper = Deduper(dedupe_threshold)
        for position, index in enumerate(order):
            if len(taken) == k:
                dropped[f"beyond k={k}"] += len(order) - position
                break
            if deduper.duplicate(texts[index]):
                dropped["near-duplicate"] += 1
                continue
            taken.append(index)
            deduper.keep(texts[index])
        kept += taken
        empty += not taken
    return Selection(sorted(kept), pairs, len(groups), empty, dict(dropped), lengths, unit)


def group_pairs(
    passing: list[int],
    failing: list[int],
    lengths: Sequence[int],
    texts: Sequence[str],
    ratio: float,
    limit: int,
    dedupe_threshold: float | None,
    rng: random.Random,
) -> list[tuple[int, int]]:
    """Chosen shortest first (near-duplicates of an earlier chosen skipped); each takes an unused
    rejected (failing, or passing and `ratio` times longer), picked at random among those, until
    `limit` pairs. An item is in one pair at most: never chosen in one and rejected in another."""
    pairs: list[tuple[int, int]] = []
    used: set[int] = set()
    by_length = sorted(passing, key=lambda i: (lengths[i], i))
    longest = lengths[by_length[-1]] if by_length else 0
    deduper = Deduper(dedupe_threshold)
    for chosen in by_length:
        if len(pairs) == limit:
            break
        if chosen in used or deduper.duplicate(texts[chosen]):
            continue
        bound = ratio * max(lengths[chosen], 1)
        options = [i for i in failing if i not in used]
        if not options and longest < bound:
            break  # the later chosen are longer still: nothing can be their rejected
        options += [i for i in passing if i != chosen and i not in used and lengths[i] >= bound]
        if not options:
            continue
        rejected = rng.choice(sorted(options))
        used.update((chosen, rejected))
        deduper.keep(texts[chosen])
        pairs.append((chosen, rejected))
    return pairs
