"""The scoring engine: validate a request against the registry, run its rewards, combine by weight.

Rewards run in dependency levels (e.g. `length` reads `math`); the rewards of one level run
concurrently in threads, so math grading, sandbox runs and the reward model overlap.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from pydantic import BaseModel, ValidationError

from service.api.credit import turn_credit
from service.api.errors import APIError, error_entry
from service.api.schemas import ItemResult, RewardRequest, RewardResponse
from service.grading.errors import ErrorKind
from service.items import Item, group_indices
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


@dataclass(frozen=True)
class Plan:
    """A validated request: the weights, each reward's params, and the order rewards run in."""

    request: RewardRequest
    weights: dict[str, float]
    params: dict[str, BaseModel]
    levels: list[list[str]]

    @property
    def names(self) -> list[str]:
        return [name for level in self.levels for name in level]

    @property
    def shown(self) -> list[str]:
        """Request order, then the dependencies it pulled in."""
        return list(self.weights) + [name for name in self.names if name not in self.weights]


def plan_request(
    request: RewardRequest,
    registry: Registry,
    resources: Resources,
    max_items: int,
    only: Sequence[str] | None = None,
) -> Plan:
    """Everything checked before any scoring starts: a bad request is one 4xx, never a half-scored batch."""
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
    plan = Plan(request, weights, params, plan_levels(weights, params, registry))
    if only is not None:
        for name in plan.names:
            if name not in only:
                raise APIError.at(
                    422,
                    ["body", "rewards", name],
                    f"this server only serves {', '.join(only)}",
                    "reward_not_served",
                )
    check_available(plan.names, registry, resources)
    check_required_fields(plan.names, items, registry)
    return plan


@dataclass
class Scored:
    """Some items' results, with the batch-level remarks and null counts they brought."""

    results: list[ItemResult]
    notes: list[str]
    nulls: Counter[str]


async def score_items(plan: Plan, indices: Sequence[int], registry: Registry, resources: Resources) -> Scored:
    """Score the request's items at `indices` (all of them, or one rollout group when streaming)."""
    items = [plan.request.items[i] for i in indices]
    ctx = RewardContext(resources=resources)
    for level in plan.levels:

        async def run(name: str) -> None:
            ctx.scores[name] = await anyio.to_thread.run_sync(
                _run_reward,
                name,
                registry.rewards[name],
                items,
                plan.params[name],
                ctx,
                limiter=_REWARD_THREADS,
            )

        async with anyio.create_task_group() as tasks:
            for name in level:
                tasks.start_soon(run, name)

    shown, weights = plan.shown, plan.weights
    parts = {name: _part_names(ctx.scores[name]) for name in shown}
    results = []
    nulls: Counter[str] = Counter()
    for position, (index, item) in enumerate(zip(indices, items, strict=True)):
        scores = {name: ctx.scores[name][position] for name in shown}
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
        if plan.request.turns is not None:
            turns, remark = turn_credit(item, scores, weights, reward, plan.request.turns.gamma)
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
    return Scored(results, list(dict.fromkeys(ctx.notes)), nulls)


async def score_request(
    request: RewardRequest,
    registry: Registry,
    resources: Resources,
    max_items: int,
    only: Sequence[str] | None = None,
) -> RewardResponse:
    started = time.perf_counter()
    plan = plan_request(request, registry, resources, max_items, only)
    metrics.BATCH_ITEMS.observe(len(request.items))
    scored = await score_items(plan, range(len(request.items)), registry, resources)
    return RewardResponse(
        results=scored.results,
        elapsed_ms=(time.perf_counter() - started) * 1000,
        notes=scored.notes,
        null_counts=dict(scored.nulls),
    )


def stream_units(plan: Plan, registry: Registry) -> list[list[int]]:
    """What can be scored on its own: a whole rollout group when a reward compares the group's
    items (the Kimi length penalty), else each item."""
    items = plan.request.items
    if any(registry.rewards[name].group_reward for name in plan.names):
        return list(group_indices(items).values())
    return [[index] for index in range(len(items))]


async def stream_request(
    plan: Plan, registry: Registry, resources: Resources, concurrency: int
) -> AsyncIterator[ItemResult | RewardResponse]:
    """Each item's result as soon as it is scored (any order), then a `RewardResponse` with every
    result in item order (the summary, and what the recorder keeps). At most `concurrency` units are
    scored at once. The scoring runs in its own task, so a client that goes away stops it without a
    generator yielding from inside a task group."""
    started = time.perf_counter()
    metrics.BATCH_ITEMS.observe(len(plan.request.items))
    finished: asyncio.Queue[tuple[list[int], Scored] | None] = asyncio.Queue()
    limiter = anyio.CapacityLimiter(concurrency)

    async def unit(indices: list[int]) -> None:
        async with limiter:
            try:
                scored = await score_items(plan, indices, registry, resources)
            except Exception as exc:  # a bug in the engine costs these items, not the stream
                scored = failed_items(plan, indices, f"{type(exc).__name__}: {exc}")
        finished.put_nowait((indices, scored))

    async def produce() -> None:
        try:
            async with anyio.create_task_group() as tasks:
                for indices in stream_units(plan, registry):
                    tasks.start_soon(unit, indices)
        finally:
            finished.put_nowait(None)

    producer = asyncio.create_task(produce())
    by_position: dict[int, ItemResult] = {}  # by position: ids may repeat, or collide with an index
    notes: dict[str, None] = {}
    nulls: Counter[str] = Counter()
    try:
        while (done := await finished.get()) is not None:
            indices, scored = done
            notes.update(dict.fromkeys(scored.notes))
            nulls.update(scored.nulls)
            for index, result in zip(indices, scored.results, strict=True):
                by_position[index] = result
                yield result
    finally:
        producer.cancel()  # a client that left: what has not started is dropped
        await asyncio.gather(producer, return_exceptions=True)  # what runs ends before the request does
    yield RewardResponse(
        results=[by_position[index] for index in sorted(by_position)],
        elapsed_ms=(time.perf_counter() - started) * 1000,
        notes=list(notes),
        null_counts=dict(nulls),
    )


def failed_items(plan: Plan, indices: Sequence[int], why: str) -> Scored:
    items = plan.request.items
    results = [
        ItemResult(
            id=items[i].id if items[i].id is not None else str(i),
            reward=0.0,
            scores=dict.fromkeys(plan.shown),
            errors={name: f"{ErrorKind.internal_error.value}: {why}" for name in plan.shown},
        )
        for i in indices
    ]
    return Scored(results, [], Counter({ErrorKind.internal_error.value: len(indices) * len(plan.shown)}))
