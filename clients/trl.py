"""TRL adapter: Referee rewards as `GRPOTrainer(reward_funcs=...)` functions, one per component.

    funcs, weights = referee_reward_funcs(rewards={"math": 1.0, "format": 0.1},
                                          column_map={"solution": "answer"})
    GRPOTrainer(model=..., reward_funcs=funcs, args=GRPOConfig(reward_weights=weights, ...))

Each function is named after its component, so TRL logs `rewards/math`, `rewards/format`, ... All
components of a batch come from ONE request: the first function called sends it, the others read
the same response. A `null` score (timeout, crashed worker, ...) is 0.0, as in Referee's weighted
reward; pass `null_as=None` to hand TRL a None ("not applicable") instead.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from clients.client import AsyncRefereeClient, RefereeClient, RewardResponse
from clients.items import build_items


def _batch_key(prompts: Sequence[Any], completions: Sequence[Any]) -> int:
    return hash((repr(prompts), repr(completions)))


def _step(kwargs: Mapping[str, Any]) -> int | None:
    """TRL passes its `TrainerState`: the step files the batch in Referee's reward inspector."""
    state = kwargs.get("trainer_state")
    step = getattr(state, "global_step", None)
    return step if isinstance(step, int) else None


class _SharedBatch:
    """Scores a batch once for all component functions (sync callers)."""

    def __init__(self, score: Callable[[tuple[list[dict[str, Any]], int | None]], RewardResponse]) -> None:
        self.score = score
        self.lock = threading.Lock()
        self.key: int | None = None
        self.response: RewardResponse | None = None

    def get(self, key: int, items: Callable[[], tuple[list[dict[str, Any]], int | None]]) -> RewardResponse:
        with self.lock:
            if key != self.key or self.response is None:
                self.response, self.key = self.score(items()), key
            return self.response


def _values(response: RewardResponse, name: str, null_as: float | None) -> list[float | None]:
    return [null_as if value is None else value for value in response.component(name)]


def referee_reward_funcs(
    rewards: Mapping[str, float] | None = None,
    *,
    profile: str | None = None,
    params: Mapping[str, Any] | None = None,
    column_map: Mapping[str, str] | None = None,
    client: RefereeClient | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    null_as: float | None = 0.0,
    run: str | None = None,
) -> tuple[list[Callable[..., list[float | None]]], list[float]]:
    """Reward functions for TRL, one per component, and the weights to give `GRPOConfig.reward_weights`.
    `run` names the run in Referee's reward inspector (default: `$REFEREE_RUN`); the step is TRL's."""
    client = client or RefereeClient(base_url, api_key=api_key, run=run)
    weights = _weights(rewards, profile, client)
    shared = _SharedBatch(
        lambda batch: client.score(batch[0], rewards=rewards, profile=profile, params=params, step=batch[1])
    )

    def component(name: str) -> Callable[..., list[float | None]]:
        def reward(
            prompts: Sequence[Any], completions: Sequence[Any], completion_ids: Any = None, **kwargs: Any
        ) -> list[float | None]:
            response = shared.get(
                _batch_key(prompts, completions),
                lambda: (
                    build_items(prompts, completions, kwargs, column_map, completion_ids),
                    _step(kwargs),
                ),
            )
            return _values(response, name, null_as)

        reward.__name__ = reward.__qualname__ = name
        return reward

    return [component(name) for name in weights], list(weights.values())


def referee_async_reward_funcs(
    rewards: Mapping[str, float] | None = None,
    *,
    profile: str | None = None,
    params: Mapping[str, Any] | None = None,
    column_map: Mapping[str, str] | None = None,
    client: AsyncRefereeClient | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    null_as: float | None = 0.0,
    run: str | None = None,
) -> tuple[list[Callable[..., Any]], list[float]]:
    """`async def` variant: TRL awaits them concurrently; they still share one request per batch."""
    client = client or AsyncRefereeClient(base_url, api_key=api_key, run=run)
    with RefereeClient(client.base_url, api_key=client.api_key) as lookup:
        weights = _weights(rewards, profile, lookup)
    pending: dict[int, asyncio.Task[RewardResponse]] = {}

    def component(name: str) -> Callable[..., Any]:
        async def reward(
            prompts: Sequence[Any], completions: Sequence[Any], completion_ids: Any = None, **kwargs: Any
        ) -> list[float | None]:
            key = _batch_key(prompts, completions)
            if key not in pending:
                pending.clear()  # only the current batch is worth keeping
                items = build_items(prompts, completions, kwargs, column_map, completion_ids)
                pending[key] = asyncio.ensure_future(
                    client.score(items, rewards=rewards, profile=profile, params=params, step=_step(kwargs))
                )
            return _values(await pending[key], name, null_as)

        reward.__name__ = reward.__qualname__ = name
        return reward

    return [component(name) for name in weights], list(weights.values())


def _weights(
    rewards: Mapping[str, float] | None, profile: str | None, client: RefereeClient
) -> dict[str, float]:
    if rewards is not None:
        return dict(rewards)
    if profile is None:
        raise ValueError("give `rewards` (name -> weight) or a `profile`")
    profiles = client.rewards()["profiles"]
    if profile not in profiles:
        raise ValueError(f"unknown profile {profile!r}; the server knows {', '.join(sorted(profiles))}")
    return dict(profiles[profile]["weights"])
