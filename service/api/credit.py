"""Per-turn credit for trajectories: split an item's weighted reward over its assistant turns.

Outcome rewards land on the last turn (the one that ended the trajectory); rewards that know which
turn earned what (`Score.turns`: action_format, tool_call_validity, step rewards) keep their split.
The item's reward becomes the sum of its turn rewards (it differs from the weighted sum of the scores
in the last bits at most), so they add up exactly; the returns and anchors are what a GiGPO-style trainer
needs to form step groups. Advantages stay with the trainer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from service.api.schemas import TurnBreakdown
from service.grading.trajectory.environment import anchor, observation_before
from service.grading.trajectory.turns import Message as ChatMessage
from service.grading.trajectory.turns import TextTurn
from service.items import Item
from service.rewards.base import Score


def turn_credit(
    item: Item, scores: Mapping[str, Score], weights: Mapping[str, float], reward: float, gamma: float
) -> tuple[TurnBreakdown, str | None]:
    """The breakdown, and a remark when something could not be credited as asked (no assistant turn,
    anchors that do not match the turns)."""
    messages: Sequence[ChatMessage] = (
        [TextTurn(item.completion)] if isinstance(item.completion, str) else item.completion
    )
    indices = [index for index, message in enumerate(messages) if message.role == "assistant"]
    count = len(indices)
    rewards = [0.0] * count
    per_turn: dict[str, list[float | None]] = {}
    for name, score in scores.items():
        if score.per_turn is not None and len(score.per_turn) == count:
            per_turn[name] = list(score.per_turn)
        weight = weights.get(name, 0.0)
        if not count or not weight or score.value is None:
            continue
        if score.turns is not None and len(score.turns) == count:
            shares = list(score.turns)
        else:
            shares = [0.0] * (count - 1) + [score.value]
        for turn, share in enumerate(shares):
            rewards[turn] += weight * share
    returns = [0.0] * count
    following = 0.0
    for turn in reversed(range(count)):
        following = rewards[turn] + gamma * following
        returns[turn] = following
    remark = None if count or not reward else "no assistant turn: the reward is not credited to any turn"
    given = item.anchors
    if given is not None and len(given) == count:
        anchors = list(given)
    else:
        if given is not None and count:
            remark = f"{len(given)} anchors for {count} assistant turns: hashed observations used instead"
        anchors = [anchor(observation_before(messages, item.prompt, index)) for index in indices]
    breakdown = TurnBreakdown(
        message_index=indices, scores=per_turn, rewards=rewards, returns=returns, anchors=anchors
    )
    return breakdown, remark
