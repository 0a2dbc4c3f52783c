"""verl adapter: `custom_reward_function.path=<this file>`, `.name=compute_score` (or
`compute_score_batch` with verl's batch reward manager).

Configuration comes from the environment of the verl workers: `REFEREE_URL`, `REFEREE_API_KEY`,
and `REFEREE_PROFILE` (default `r1-math`) or `REFEREE_REWARDS` (`math=1,format=0.1`). Each call
returns a dict: `score` (the weighted reward, what verl optimises) plus every component, which
verl logs.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from clients.client import RefereeClient


@cache
def _client() -> RefereeClient:
    return RefereeClient()


def _selection() -> dict[str, Any]:
    spec = os.environ.get("REFEREE_REWARDS")
    if spec:
        pairs = (part.split("=", 1) for part in spec.split(",") if part.strip())
        return {"rewards": {name.strip(): float(weight) for name, weight in pairs}}
    return {"profile": os.environ.get("REFEREE_PROFILE", "r1-math")}


def _item(solution_str: str, ground_truth: Any, extra_info: dict[str, Any] | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        key: value for key, value in (extra_info or {}).items() if isinstance(value, str | int | float | list)
    }
    item.update(completion=solution_str, answer=None if ground_truth is None else str(ground_truth))
    return item


def compute_score_batch(
    data_sources: list[str],
    solution_strs: list[str],
    ground_truths: list[Any],
    extra_infos: list[dict[str, Any] | None] | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """Batched variant for verl's `BatchRewardManager`: one request for the whole batch."""
    extra_infos = extra_infos or [None] * len(solution_strs)
    items = [_item(s, g, e) for s, g, e in zip(solution_strs, ground_truths, extra_infos, strict=True)]
    response = _client().score(items, **_selection())
    return [
        {"score": r.reward, **{name: value or 0.0 for name, value in r.scores.items()}}
        for r in response.results
    ]


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """verl's per-sample signature."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info])[0]
