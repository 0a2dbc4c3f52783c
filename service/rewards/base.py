"""What every reward function shares: its result type, its context and its registry entry.

A reward is a plain function `fn(items, params, ctx) -> list[Score]`, one score per item, in
order. It never raises for bad user data: an item it cannot score gets `Score.fail(kind, detail)`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from service.grading.errors import ErrorKind, ScoreError
from service.items import Item
from service.runtime.resources import ResourceName, Resources


@dataclass(frozen=True, slots=True)
class Score:
    """A value (None when it could not be computed) and, for a null or a remark, why."""

    value: float | None
    error: ScoreError | None = None
    parts: Mapping[str, float | None] | None = None
    """Sub-scores, shown as `<reward>/<part>` next to the reward's own score (not weighted)."""
    turns: Sequence[float] | None = None
    """For trajectories: the value split over the assistant turns (it sums to the value), for per-turn
    credit; None puts the whole value on the last turn."""
    per_turn: Sequence[float | None] | None = None
    """For trajectories: the reward's own score of each assistant turn, when it has one."""

    @classmethod
    def fail(
        cls, kind: ErrorKind, detail: str = "", parts: Mapping[str, float | None] | None = None
    ) -> Score:
        return cls(None, ScoreError(kind, detail), parts)

    @classmethod
    def remark(cls, value: float, kind: ErrorKind, detail: str = "") -> Score:
        """A real score that comes with an explanation (e.g. 0.0 and "no python code block")."""
        return cls(value, ScoreError(kind, detail))


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class RewardContext:
    """Shared resources for reward functions, and what earlier rewards of the request computed.

    The engine checks a reward's `resources` before calling it, so a reward reads them with
    `ctx.resources.required(...)`-style access knowing they are there.
    """

    resources: Resources = field(default_factory=Resources)
    scores: dict[str, list[Score]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


RewardFn = Callable[[Sequence[Item], Any, RewardContext], list[Score]]


@dataclass(frozen=True)
class Reward:
    """A registry entry: the function plus what the engine must know to call it."""

    fn: RewardFn
    params: type[BaseModel] = NoParams
    requires: tuple[str, ...] = ()
    """Item fields that must be present (checked before scoring: 422 naming the item)."""
    requires_one_of: tuple[str, ...] = ()
    """Item fields at least one of which must be present (422 naming the first when none is)."""
    resources: tuple[ResourceName, ...] = ()
    """Fields of `Resources` it needs (checked before scoring: 422 when one is not configured)."""
    uses: tuple[ResourceName, ...] = ()
    """Fields of `Resources` it uses when the server has them (built at startup if configured)."""
    warmup: tuple[str, ...] = ()
    """Modules the worker pool's fork server imports at start, so its tasks find workers warm."""

    @property
    def all_resources(self) -> tuple[ResourceName, ...]:
        """What it needs and what it uses: what the server builds for it and describes."""
        return (*self.resources, *self.uses)

    group_reward: bool = False
    """Scores depend on the other items of the same rollout group."""
    depends_on: Callable[[Any], tuple[str, ...]] = lambda params: ()
    """Rewards whose scores it reads from `ctx.scores` (computed first, weight 0 if not asked for)."""
    unavailable_hint: str | None = None
    """Told to the user when a needed resource is missing, e.g. how to start the server with it."""

    @property
    def description(self) -> str:
        return " ".join((self.fn.__doc__ or "").strip().split("\n\n")[0].split())


@dataclass(frozen=True)
class Profile:
    """A named weight set, with the options its rewards need (a request's `params` override them)."""

    weights: dict[str, float]
    params: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Registry:
    """The rewards and profiles a server offers. The app gets one; tests build their own."""

    rewards: dict[str, Reward]
    profiles: dict[str, Profile] = field(default_factory=dict)

    def known(self) -> str:
        return ", ".join(sorted(self.rewards))
