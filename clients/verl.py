"""verl adapter, tested with verl 0.9.1: its reward loop (what `main_ppo` runs) and the legacy managers.

    reward.custom_reward_function.path=pkg://clients.verl
    reward.custom_reward_function.name=compute_score_async   # or compute_score
    reward.reward_manager.name=naive                          # or dapo, remote

Which rewards: `REFEREE_PROFILE` (default `r1-math`) or `REFEREE_REWARDS` (`math=1,format=0.1`) in the
environment of the verl workers, or the same as reward kwargs
(`+reward.custom_reward_function.reward_kwargs.referee_profile=kimi-math`); the server is
`REFEREE_URL` / `REFEREE_API_KEY`, retries `REFEREE_RETRY_BUDGET_S` (see `clients.client`).

Each call returns a dict with the same keys every time (verl stacks them into its logs): `score`
(the weighted reward verl optimises) and every component, a null component as 0.0. Concurrent
per-sample calls in one process are coalesced into one request (`clients.coalesce`), so the
per-sample API runs at batch speed and a rollout group's samples are scored together. The group of
a sample is verl's `uid` where a manager passes it, else what verl's data preparation puts in
`extra_info` (`index`, else `question`), else the data source and ground truth.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from clients.client import ItemResult, parse_weights, selection_from_env
from clients.coalesce import shared_scorer

# Item fields Referee defines itself: an `extra_info` key with one of these names is sent renamed.
RESERVED_FIELDS = ("id", "group", "prompt", "completion", "completion_tokens", "answer")


def plain(value: Any) -> Any:
    """JSON-safe Python: numpy scalars and arrays (what verl's batches hold) become numbers and lists."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return str(value)


def tests_from(ground_truth: Any) -> list[dict[str, Any]] | None:
    """stdin/stdout tests from a code dataset's ground truth: `{"inputs": [...], "outputs": [...]}`
    (as a dict or a JSON string, e.g. PRIME/Eurus) or a list of `{"input", "output"}`."""
    if isinstance(ground_truth, str) and ground_truth.lstrip().startswith(("{", "[")):
        try:
            ground_truth = json.loads(ground_truth)
        except json.JSONDecodeError:
            return None
    if isinstance(ground_truth, dict) and isinstance(ground_truth.get("inputs"), list):
        outputs = ground_truth.get("outputs") or []
        return [{"input": i, "output": o} for i, o in zip(ground_truth["inputs"], outputs, strict=False)]
    if (
        isinstance(ground_truth, list)
        and ground_truth
        and all(isinstance(t, dict) and "input" in t for t in ground_truth)
    ):
        return ground_truth
    return None


def group_of(data_source: str, ground_truth: Any, info: Mapping[str, Any], uid: Any = None) -> str:
    if uid is not None:
        return str(uid)
    if info.get("index") is not None:
        return f"{data_source}/{info.get('split', '')}/{info['index']}"
    if info.get("question"):
        return f"{data_source}/{info['question']}"
    return f"{data_source}/{json.dumps(ground_truth, sort_keys=True)}"


def to_item(
    data_source: Any,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None,
    **kwargs: Any,
) -> dict[str, Any]:
    """One verl sample as a Referee item: extra_info columns, the gold (a list = several accepted
    answers; code tests from the ground truth), the group, the prompt and the length when known."""
    source, truth = str(plain(data_source)), plain(ground_truth)
    info = plain(dict(extra_info or {}))
    item: dict[str, Any] = {
        (f"extra_info_{key}" if key in RESERVED_FIELDS else key): value for key, value in info.items()
    }
    item["completion"] = solution_str
    item["group"] = group_of(source, truth, info, kwargs.get("uid"))
    if isinstance(info.get("question"), str):
        item["prompt"] = info["question"]
    tests = tests_from(truth)
    if tests is not None and "tests" not in item:
        item["tests"] = tests
    elif isinstance(truth, list):
        item["answer"] = [str(answer) for answer in truth]
    elif truth is not None:
        item["answer"] = str(truth)
    length = kwargs.get("valid_response_length", kwargs.get("response_length", info.get("response_length")))
    if length is not None:
        item["completion_tokens"] = int(length)
    return item


def selection(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """`referee_rewards` / `referee_profile` / `referee_params` reward kwargs, else the environment."""
    chosen: dict[str, Any]
    rewards = kwargs.get("referee_rewards")
    if rewards:
        chosen = {"rewards": parse_weights(rewards) if isinstance(rewards, str) else dict(rewards)}
    elif kwargs.get("referee_profile"):
        chosen = {"profile": str(kwargs["referee_profile"])}
    else:
        chosen = selection_from_env()
    if kwargs.get("referee_params"):
        chosen["params"] = plain(kwargs["referee_params"])
    return chosen


def as_verl(result: ItemResult) -> dict[str, Any]:
    return {"score": result.reward, **{name: value or 0.0 for name, value in result.scores.items()}}


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """verl's per-sample signature (reward loop `naive`/`dapo`/`remote`, legacy `naive`)."""
    item = to_item(data_source, solution_str, ground_truth, extra_info, **kwargs)
    return as_verl(shared_scorer(selection(kwargs)).score(item))


async def compute_score_async(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """The same, as a coroutine: verl's reward loop awaits it directly instead of running it in its
    small thread pool, so every sample of a worker's chunk reaches the batcher at once."""
    item = to_item(data_source, solution_str, ground_truth, extra_info, **kwargs)
    return as_verl(await shared_scorer(selection(kwargs)).score_async(item))


def compute_score_float(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict[str, Any] | None = None,
    **kwargs: Any,
) -> float:
    """The weighted reward alone, for callers that expect a number (verl's legacy `prime` manager)."""
    return float(compute_score(data_source, solution_str, ground_truth, extra_info, **kwargs)["score"])


def compute_score_batch(
    data_sources: Sequence[str],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[dict[str, Any] | None] | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """Batched variant for verl's legacy `BatchRewardManager`: one request for the whole batch (verl
    passes numpy object arrays)."""
    infos = [None] * len(solution_strs) if extra_infos is None else list(extra_infos)
    items = [
        to_item(source, solution, truth, info, **kwargs)
        for source, solution, truth, info in zip(
            data_sources, solution_strs, ground_truths, infos, strict=True
        )
    ]
    return [as_verl(result) for result in shared_scorer(selection(kwargs)).score_many(items)]
