"""What every reward function shares: its result type, its context and its registry entry.

A reward is a plain function `fn(items, params, ctx) -> list[Score]`, one score per item, in
order. It never raises for bad user data: an item it cannot score gets `Score.fail(reason)`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from service.schemas import Item


@dataclass(frozen=True, slots=True)
class Score:
    value: float | None
    error: str | None = None

    @classmethod
    def fail(cls, error: str) -> Score:
        return cls(None, error)


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class RewardContext:
    """Shared resources for reward functions, and what earlier rewards of the request computed.

    Resources are `None` when the service runs without them (e.g. no reward model loaded);
    the registry marks rewards that need a missing resource as unavailable.
    """

    resources: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, list[Score]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def resource(self, name: str) -> Any:
        value = self.resources.get(name)
        if value is None:
            raise RuntimeError(f"resource {name!r} is not configured on this server")
        return value


RewardFn = Callable[[Sequence[Item], Any, RewardContext], list[Score]]


@dataclass(frozen=True)
class Reward:
    """A registry entry: the function plus what the engine must know to call it."""

    fn: RewardFn
    params: type[BaseModel] = NoParams
    requires: tuple[str, ...] = ()
    """Item fields that must be present (checked before scoring: 422 naming the item)."""
    resources: tuple[str, ...] = ()
    """Context resources it needs (`math_pool`, `sandbox`, `verifier`)."""
    group_reward: bool = False
    """Scores depend on the other items of the same rollout group."""
    depends_on: Callable[[Any], tuple[str, ...]] = lambda params: ()
    """Rewards whose scores it reads from `ctx.scores` (computed first, weight 0 if not asked for)."""
    unavailable_hint: str | None = None
    """Told to the user when a needed resource is missing, e.g. how to start the server with it."""

    @property
    def description(self) -> str:
        return (self.fn.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")


@dataclass(frozen=True)
class Profile:
    """A named weight set, with the options its rewards need (a request's `params` override them)."""

    weights: dict[str, float]
    params: dict[str, dict[str, Any]] = field(default_factory=dict)


def group_indices(items: Sequence[Item]) -> dict[str, list[int]]:
    """Item indices per rollout group, in first-seen order."""
    groups: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault(item.group_key, []).append(index)
    return groups
