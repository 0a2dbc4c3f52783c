"""`POST /v1/rewards/stream`: each result as soon as its item is scored, group rewards per complete
group, the same scores as `/v1/rewards`, a 4xx before anything streams, and the client twins."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from clients.client import AsyncRefereeClient, RefereeClient, RefereeError

SLOW = "```python\nimport time\ntime.sleep(5)\nprint(int(input()) + 1)\n```"
FAST = "```python\nprint(int(input()) + 1)\n```"


def code_item(id: str, program: str) -> dict[str, Any]:
    return {"id": id, "completion": program, "tests": [{"input": "1", "output": "2"}]}


def math_items() -> list[dict[str, Any]]:
    answers = ["\\boxed{2}", "\\boxed{3}", "It is 2", "<think>x</think> \\boxed{\\frac{4}{2}}"]
    return [
        {
            "id": f"q{q}-{n}",
            "group": f"q{q}",
            "prompt": "1+1?",
            "answer": "2",
            "completion": f"<think>{'hm ' * (n + q)}</think> {answer}",
            "completion_tokens": 10 * (n + 1) + q,
        }
        for q in range(3)
        for n, answer in enumerate(answers)
    ]


def stream(url: str, body: dict[str, Any]) -> tuple[list[tuple[float, dict[str, Any]]], dict[str, Any]]:
    """(seconds since the request, result) per line, and the summary."""
    lines, summary, started = [], {}, time.perf_counter()
    with httpx.stream("POST", f"{url}/v1/rewards/stream", json=body, timeout=120) as response:
        assert response.status_code == 200 and response.headers["content-type"] == "application/x-ndjson"
        for line in response.iter_lines():
            data = json.loads(line)
            if "summary" in data:
                summary = data["summary"]
            else:
                lines.append((time.perf_counter() - started, data))
    return lines, summary


@pytest.mark.slow
def test_fast_results_do_not_wait_for_a_slow_one(live_server: str) -> None:
    items = [code_item("slow", SLOW)] + [code_item(f"fast{i}", FAST) for i in range(8)]
    body = {"rewards": {"code": 1.0}, "items": items, "params": {"code": {"time_limit_s": 10}}}
    lines, summary = stream(live_server, body)
    arrival = {result["id"]: seconds for seconds, result in lines}
    assert sorted(arrival) == sorted(item["id"] for item in items)  # each item once
    assert max(arrival[f"fast{i}"] for i in range(8)) < 4 < arrival["slow"]  # the slow one sleeps 5 s
    assert lines[-1][1]["id"] == "slow" and all(result["scores"]["code"] == 1.0 for _, result in lines)
    assert summary["items"] == 9 and summary["null_counts"] == {}


def test_the_same_scores_as_one_response_and_groups_whole(live_server: str) -> None:
    body = {"profile": "kimi-math", "items": math_items()}  # `length` compares a rollout group
    whole = httpx.post(f"{live_server}/v1/rewards", json=body, timeout=120).json()
    lines, summary = stream(live_server, body)
    streamed = {result["id"]: result for _, result in lines}
    for expected in whole["results"]:
        got = streamed[expected["id"]]
        assert (got["reward"], got["scores"], got["errors"]) == (
            expected["reward"],
            expected["scores"],
            expected["errors"],
        )
    groups = [result["id"].split("-")[0] for _, result in lines]
    for group in set(groups):  # a group's results are sent together, once its last item is scored
        positions = [i for i, g in enumerate(groups) if g == group]
        assert positions == list(range(positions[0], positions[0] + 4))
    assert summary["items"] == 12 and summary["notes"] == whole["notes"]


def test_a_bad_request_is_a_4xx_before_anything_streams(live_server: str) -> None:
    response = httpx.post(
        f"{live_server}/v1/rewards/stream", json={"rewards": {"nope": 1.0}, "items": math_items()}, timeout=30
    )
    assert response.status_code == 422 and response.headers["content-type"] == "application/json"
    assert response.json()["detail"][0]["loc"] == ["body", "rewards", "nope"]
    missing = httpx.post(
        f"{live_server}/v1/rewards/stream",
        json={"rewards": {"math": 1.0}, "items": [{"completion": "x"}]},
        timeout=30,
    )
    assert missing.status_code == 422 and "answer" in missing.text


def test_a_client_that_leaves_early_does_not_hurt_the_server(live_server: str) -> None:
    items = [code_item("slow", SLOW)] + [code_item(f"fast{i}", FAST) for i in range(4)]
    with httpx.stream(
        "POST",
        f"{live_server}/v1/rewards/stream",
        json={"rewards": {"code": 1.0}, "items": items},
        timeout=60,
    ) as response:
        next(response.iter_lines())  # one result, then hang up
    assert httpx.get(f"{live_server}/healthz", timeout=30).status_code == 200
    after = httpx.post(
        f"{live_server}/v1/rewards", json={"profile": "r1-math", "items": math_items()}, timeout=60
    )
    assert after.status_code == 200 and len(after.json()["results"]) == 12


def test_client_twins_stream(live_server: str) -> None:
    items = math_items()
    with RefereeClient(live_server) as referee, referee.score_stream(items, rewards={"math": 1.0}) as results:
        sync = {result.id: result.scores["math"] for result in results}
        assert results.summary is not None and results.summary.items == 12
    assert sync["q0-0"] == 1.0 and sync["q0-1"] == 0.0 and len(sync) == 12

    async def collect() -> dict[str, float | None]:
        async with (
            AsyncRefereeClient(live_server) as referee,
            referee.score_stream(items, rewards={"math": 1.0}) as stream,
        ):
            return {result.id: result.scores["math"] async for result in stream}

    assert asyncio.run(collect()) == sync
    with (
        RefereeClient(live_server) as referee,
        pytest.raises(RefereeError) as error,
        referee.score_stream(items, rewards={"nope": 1.0}),
    ):
        pass
    assert error.value.status_code == 422


def test_the_summary_keeps_item_order_when_ids_repeat_or_collide() -> None:
    """What the recorder keeps is matched to the items by position: ids may repeat, or an item
    without one (given its index, "0") may meet an item whose id is "0"."""
    from service.api.schemas import RewardRequest, RewardResponse
    from service.api.scoring import plan_request, stream_request
    from service.rewards.registry import DEFAULT_REGISTRY
    from service.runtime.resources import Resources

    completions = ["<think>a</think> b", "no format", "<think>c</think> d", "<think>e"]
    ids = [None, "0", "x", "x"]
    items = [
        {"completion": text, **({"id": i} if i else {})} for text, i in zip(completions, ids, strict=True)
    ]
    request = RewardRequest.model_validate({"rewards": {"format": 1.0}, "items": items})
    plan = plan_request(request, DEFAULT_REGISTRY, Resources(), 100)

    async def collect() -> RewardResponse:
        async for result in stream_request(plan, DEFAULT_REGISTRY, Resources(), concurrency=4):
            if isinstance(result, RewardResponse):
                return result
        raise AssertionError("no summary")

    summary = asyncio.run(collect())
    assert [r.scores["format"] for r in summary.results] == [1.0, 0.0, 1.0, 0.0]
    assert [r.id for r in summary.results] == ["0", "0", "x", "x"]


def test_an_odd_step_header_is_ignored(tmp_path: Any) -> None:
    """`²` is a digit to `str.isdigit` but not to `int`: the recorder's step hint must not 500."""
    from tests.server_utils import running_server

    with running_server(record=f"sqlite:///{tmp_path / 'records.sqlite'}") as url:
        body = {"rewards": {"format": 1.0}, "items": [{"completion": "x"}]}
        odd = {"X-Referee-Step": b"\xb2"}
        assert httpx.post(f"{url}/v1/rewards", json=body, headers=odd, timeout=30).status_code == 200
        with httpx.stream("POST", f"{url}/v1/rewards/stream", json=body, headers=odd, timeout=30) as response:
            lines = list(response.iter_lines())
        assert json.loads(lines[-1])["summary"]["items"] == 1
