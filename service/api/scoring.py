"""The scoring engine: validate a request against the registry, run its rewards, combine by weight.

Rewards run in dependency levels (e.g. `length` reads `math`); the rewards of one level run
concurrently in threads, so math grading, sandbox runs and the reward model overlap.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import anyio
from pydantic import BaseModel, ValidationError

from service.api.credit import turn_credit
from service.api.errors import APIError, error_entry
from service.api.schemas import ItemResult, RewardRequest, RewardResponse
from service.grading.errors import ErrorKind
from service.items import Item
from service.rewards.base import Registry, Reward, RewardContext, Score
from service.runtime import metrics
from service.runtime.resources import Resources

MAX_REPORTED_ERRORS = 20
# Rewards block on worker pools, sandboxes and the reward model; keep them off FastAPI's own limiter.
_REWARD_THREADS = anyio.CapacityLimiter(64)


def unknown_reward(registry: Registry, loc: list[str | int], message: str) -> APIError:
    return APIError.at(422, loc, f"{message}; known rewards: {registry.known()}", "unknown_reward")


def resolve_weights(
    request: RewardRequest, registry: Registry
) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """The request's weights and params, with a profile's defaults filled in."""
    if request.profile is not None:
        if request.profile not in registry.profiles:
            raise APIError.at(
                422,
                ["body", "profile"],
                f"unknown profile {request.profile!r}; "
                f"known profiles: {', '.join(sorted(registry.profiles))}",
                "unknown_profile",
            )
        profile = registry.profiles[request.profile]
        params = {
            name: {**profile.params.get(name, {}), **request.params.get(name, {})}
            for name in {*profile.params, *request.params}
        }
        return dict(profile.weights), params
    weights = dict(request.rewards or {})
    if not weights:
        raise APIError.at(422, ["body", "rewards"], "name at least one reward", "empty_rewards")
    for name, weight in weights.items():
        if name not in registry.rewards:
            raise unknown_reward(registry, ["body", "rewards", name], f"unknown reward {name!r}")
        if not math.isfinite(weight):
            raise APIError.at(
                422, ["body", "rewards", name], "weight must be a finite number", "invalid_weight"
            )
    return weights, dict(request.params)


def parse_one_params(reward: Reward, name: str, raw: Mapping[str, Any]) -> BaseModel:
    try:
        return reward.params.model_validate(raw)
    except ValidationError as exc:
        raise APIError(
            422, [error_entry(["body", "params", name, *e["loc"]], e["msg"], e["type"]) for e in exc.errors()]
        ) from None


def parse_params(
    raw: Mapping[str, Mapping[str, Any]], weights: Mapping[str, float], registry: Registry
) -> dict[str, BaseModel]:
    """Validated params of every reward the request names or gives options for; errors point
    into `params.<reward>.<field>`. Dependencies are parsed when the plan reaches them."""
    for name in raw:
        if name not in registry.rewards:
            raise unknown_reward(registry, ["body", "params", name], f"params for unknown reward {name!r}")
    return {
        name: parse_one_params(registry.rewards[name], name, raw.get(name, {})) for name in {*weights, *raw}
    }


def plan_levels(
    weights: Mapping[str, float], params: dict[str, BaseModel], registry: Registry
) -> list[list[str]]:
    """Order the requested rewards and their dependencies so every reward runs after what it reads
    (parsing the params of dependencies the request did not name)."""
    needed: dict[str, tuple[str, ...]] = {}
    pending = list(weights)
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        if name not in params:
            params[name] = parse_one_params(registry.rewards[name], name, {})
        deps = tuple(registry.rewards[name].depends_on(params[name]))
        for dep in deps:
            if dep not in registry.rewards:
                raise unknown_reward(
                    registry, ["body", "params", name], f"reward {name!r} depends on unknown reward {dep!r}"
                )
        needed[name] = deps
        pending.extend(deps)
    levels: list[list[str]] = []
    done: set[str] = set()
    while len(done) < len(needed):
        level = sorted(n for n, deps in needed.items() if n not in done and all(d in done for d in deps))
        if not level:
            raise APIError.at(422, ["body", "params"], "reward dependencies form a cycle", "dependency_cycle")
        levels.append(level)
        done.update(level)
    return levels


def check_available(names: Sequence[str], registry: Registry, resources: Resources) -> None:
    for name in names:
        reward = registry.rewards[name]
        missing = resources.missing(reward.resources)
        if missing:
            hint = reward.unavailable_hint or f"the server has no {', '.join(missing)} configured"
            raise APIError.at(
                422,
                ["body", "rewards", name],
                f"reward {name!r} is not available: {hint}",
                "reward_unavailable",
            )


def check_required_fields(names: Sequence[str], items: Sequence[Item], registry: Registry) -> None:
    errors: list[dict[str, Any]] = []
    for name in names:
        for field in registry.rewards[name].requires:
            for index, item in enumerate(items):
                if item.get(field) is None and len(errors) < MAX_REPORTED_ERRORS:
                    errors.append(
                        error_entry(
                            ["body", "items", index, field],
                            f"reward {name!r} needs item field {field!r}",
                            "missing_field",
                        )
                    )
        alternatives = registry.rewards[name].requires_one_of
        for index, item in enumerate(items):
            if (
                alternatives
                and all(item.get(f) is None for f in alternatives)
                and len(errors) < MAX_REPORTED_ERRORS
            ):
                errors.append(
                    error_entry(
                        ["body", "items", index, alternatives[0]],
                        f"reward {name!r} needs one of the item fields {', '.join(alternatives)}",
                        "missing_field",
                    )
                )
    if errors:
        raise APIError(422, errors)


def _run_reward(
    name: str, reward: Reward, items: Sequence[Item], params: BaseModel, ctx: RewardContext
) -> list[Score]:
    """Call one reward; whatever it does, return exactly one finite-or-null score per item."""
    started = time.perf_counter()
    try:
        scores = list(reward.fn(items, params, ctx))
        if len(scores) != len(items):
            raise RuntimeError(f"returned {len(scores)} scores for {len(items)} items")
    except Exception as exc:  # a bug in one reward must not fail the request
        scores = [Score.fail(ErrorKind.internal_error, f"{type(exc).__name__}: {exc}")] * len(items)
    metrics.REWARD_LATENCY.labels(name).observe(time.perf_counter() - started)
    checked = []
    for score in scores:
        if score.value is not None and not math.isfinite(score.value):
            score = Score.fail(ErrorKind.non_finite, "the reward produced a non-finite value")
        if score.value is None:
            kind = score.error.kind if score.error is not None else ErrorKind.internal_error
            metrics.SCORE_ERRORS.labels(name, kind.value).inc()
        checked.append(score)
    metrics.ITEMS_SCORED.labels(name).inc(len(items))
    return checked


def _part_names(scores: Sequence[Score]) -> list[str]:
    """Every sub-score name any item has, so all results of a batch carry the same keys."""
    return list(dict.fromkeys(part for score in scores for part in score.parts or ()))


async def score_request(
    request: RewardRequest,
    registry: Registry,
    resources: Resources,
    max_items: int,
    only: Sequence[str] | None = None,
) -> RewardResponse:
    started = time.perf_counter()
    items = request.items
    if len(items) > max_items:
        raise APIError.at(
            413,
            ["body", "items"],
            f"{len(items)} items is more than the limit of {max_items}",
            "too_many_items",
        )
    weights, raw_params = resolve_weights(request, registry)
    params = parse_params(raw_params, weights, registry)
    levels = plan_levels(weights, params, registry)
    names = [name for level in levels for name in level]
    if only is not None:
        for name in names:
            if name not in only:
                raise APIError.at(
                    422,
                    ["body", "rewards", name],
                    f"this server only serves {', '.join(only)}",
                    "reward_not_served",
                )
    check_available(names, registry, resources)
    check_required_fields(names, items, registry)
    metrics.BATCH_ITEMS.observe(len(items))

    ctx = RewardContext(resources=resources)
    for level in levels:

        async def run(name: str) -> None:
            ctx.scores[name] = await anyio.to_thread.run_sync(
                _run_reward, name, registry.rewards[name], items, params[name], ctx, limiter=_REWARD_THREADS
            )

        async with anyio.create_task_group() as tasks:
            for name in level:
                tasks.start_soon(run, name)

    shown = list(weights) + [
        name for name in names if name not in weights
    ]  # request order, then dependencies
    parts = {name: _part_names(ctx.scores[name]) for name in shown}
    results = []
    nulls: Counter[str] = Counter()
    for index, item in enumerate(items):
        scores = {name: ctx.scores[name][index] for name in shown}
        nulls.update(
            (s.error.kind.value if s.error else ErrorKind.internal_error.value)
            for s in scores.values()
            if s.value is None
        )
        values: dict[str, float | None] = {}
        for name, score in scores.items():
            values[name] = score.value
            values.update({f"{name}/{part}": (score.parts or {}).get(part) for part in parts[name]})
        reward = sum(weights.get(n, 0.0) * (s.value or 0.0) for n, s in scores.items())
        errors = {
            n: str(s.error or ErrorKind.internal_error.value)
            for n, s in scores.items()
            if s.value is None or s.error
        }
        turns = None
        if request.turns is not None:
            turns, remark = turn_credit(item, scores, weights, reward, request.turns.gamma)
            if turns.rewards:
                reward = sum(turns.rewards)  # exactly what a trainer summing the turns gets
            if remark:
                errors["turns"] = remark
        results.append(
            ItemResult(
                id=item.id if item.id is not None else str(index),
                reward=reward,
                scores=values,
                errors=errors,
                turns=turns,
            )
        )
    return RewardResponse(
        results=results,
        elapsed_ms=(time.perf_counter() - started) * 1000,
        notes=list(dict.fromkeys(ctx.notes)),
        null_counts=dict(nulls),
    )
