"""Clients and trainer adapters against real servers: retries, errors, splitting, each adapter's shapes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from clients import AsyncRefereeClient, RefereeClient, RefereeError
from clients.client import parse_weights
from clients.coalesce import ItemScorer
from clients.trl import referee_async_reward_funcs, referee_reward_funcs
from tests.server_utils import free_port, referee_command, serve_asgi

MATH_ITEMS = [
    {"completion": "\\boxed{4}", "answer": "4"},
    {"completion": "\\boxed{5}", "answer": "4"},
    {"completion": "<think>ok</think> \\boxed{2}", "answer": "2"},
    {"completion": "none", "answer": "1"},
    {"completion": "so 7", "answer": "7"},
]


class CountingTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url.path)
        return super().handle_request(request)


def test_score_splits_large_batches_and_keeps_order(live_server: str) -> None:
    transport = CountingTransport()
    with RefereeClient(live_server, max_batch_items=2, transport=transport) as client:
        response = client.score(MATH_ITEMS, rewards={"math": 1.0})
    assert transport.requests == ["/v1/rewards"] * 3
    assert response.rewards == [1.0, 0.0, 1.0, 0.0, 1.0]
    assert [r.id for r in response.results] == ["0", "1", "0", "1", "0"]  # ids are per request
    assert response.component("math") == [1.0, 0.0, 1.0, 0.0, 1.0]


def test_server_errors_are_raised_with_the_json_and_never_retried(live_server: str) -> None:
    transport = CountingTransport()
    with RefereeClient(live_server, transport=transport) as client, pytest.raises(RefereeError) as error:
        client.score([{"completion": "x"}], rewards={"math": 1.0})
    assert error.value.status_code == 422
    assert error.value.detail[0]["loc"] == ["body", "items", 0, "answer"]
    assert "needs item field 'answer'" in str(error.value) and "body.items.0.answer" in str(error.value)
    assert len(transport.requests) == 1


@pytest.fixture
def flaky() -> Iterator[tuple[str, dict[str, int]]]:
    """Answers 503 (then 502, 504) a few times before a proper response."""
    state = {"calls": 0, "failures": 3}
    app = FastAPI()

    @app.post("/v1/rewards")
    async def rewards(request: Request) -> JSONResponse:
        state["calls"] += 1
        if state["calls"] <= state["failures"]:
            return JSONResponse({"detail": "busy"}, status_code=(503, 502, 504)[state["calls"] % 3])
        items = (await request.json())["items"]
        return JSONResponse(
            {
                "results": [
                    {"id": str(i), "reward": 1.0, "scores": {"x": 1.0}, "errors": {}}
                    for i in range(len(items))
                ],
                "elapsed_ms": 1.0,
            }
        )

    with serve_asgi(app) as url:
        yield url, state


def test_retries_502_503_504_with_backoff(flaky: tuple[str, dict[str, int]]) -> None:
    url, state = flaky
    started = time.monotonic()
    with RefereeClient(url, backoff_s=0.05, max_retries=4) as client:
        assert client.score([{"completion": "a"}], rewards={"x": 1}).rewards == [1.0]
    assert state["calls"] == 4
    assert time.monotonic() - started >= 0.05 * (1 + 2 + 4) * 0.5  # backed off between attempts


def test_gives_up_after_max_retries(flaky: tuple[str, dict[str, int]]) -> None:
    url, state = flaky
    with RefereeClient(url, backoff_s=0.01, max_retries=1) as client, pytest.raises(RefereeError) as error:
        client.score([{"completion": "a"}], rewards={"x": 1})
    assert error.value.status_code in (502, 503, 504) and state["calls"] == 2


def test_a_bare_500_from_a_proxy_is_retried_but_referees_own_500_is_not() -> None:
    """Ray Serve's proxy answers a plain-text 500 when the replica holding the request dies."""
    answers = [
        httpx.Response(500, text="Internal Server Error"),
        httpx.Response(
            200, json={"results": [{"id": "0", "reward": 1.0, "scores": {}, "errors": {}}], "elapsed_ms": 1.0}
        ),
    ]
    transport = httpx.MockTransport(lambda request: answers.pop(0))
    with RefereeClient("http://referee", transport=transport, backoff_s=0.01) as client:
        assert client.score([{"completion": "a"}], rewards={"x": 1}).rewards == [1.0]
    assert not answers

    calls = []

    def own_error(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(
            500, json={"detail": [{"loc": [], "msg": "internal error: KeyError", "type": "internal_error"}]}
        )

    with (
        RefereeClient("http://referee", transport=httpx.MockTransport(own_error), backoff_s=0.01) as client,
        pytest.raises(RefereeError, match="internal error"),
    ):
        client.score([{"completion": "a"}], rewards={"x": 1})
    assert len(calls) == 1


def test_async_client_retries_too(flaky: tuple[str, dict[str, int]]) -> None:
    url, state = flaky

    async def main() -> list[float]:
        async with AsyncRefereeClient(url, backoff_s=0.01) as client:
            return (await client.score([{"completion": "a"}] * 3, rewards={"x": 1})).rewards

    assert asyncio.run(main()) == [1.0, 1.0, 1.0] and state["calls"] == 4


def test_connection_errors_are_retried_until_the_server_is_up() -> None:
    port = free_port()
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok", "version": "test"}

    def start_late() -> None:
        time.sleep(1.0)
        with serve_asgi(app, port):
            time.sleep(5)

    threading.Thread(target=start_late, daemon=True).start()
    with RefereeClient(f"http://127.0.0.1:{port}", backoff_s=0.2, max_retries=6) as client:
        assert client.health()["status"] == "ok"
    with (
        RefereeClient(f"http://127.0.0.1:{free_port()}", backoff_s=0.01, max_retries=2) as client,
        pytest.raises(RefereeError, match="cannot reach"),
    ):
        client.health()


def test_api_key_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.server_utils import running_server

    with running_server(api_key="k3y") as url:
        with pytest.raises(RefereeError) as error:
            RefereeClient(url, api_key="wrong").rewards()
        assert error.value.status_code == 401
        monkeypatch.setenv("REFEREE_API_KEY", "k3y")
        assert "math" in {r["name"] for r in RefereeClient(url).rewards()["rewards"]}


def test_trl_reward_functions_share_one_request(live_server: str) -> None:
    transport = CountingTransport()
    client = RefereeClient(live_server, transport=transport)
    funcs, weights = referee_reward_funcs(
        {"math": 1.0, "format": 0.5}, client=client, column_map={"solution": "answer"}
    )
    assert [f.__name__ for f in funcs] == ["math", "format"] and weights == [1.0, 0.5]
    prompts = ["What is 2+2?"] * 2
    completions = ["<think>2+2</think> \\boxed{4}", "\\boxed{5}"]
    kwargs = {"solution": ["4", "4"], "trainer_state": object(), "completion_ids": [[1, 2, 3], [4]]}
    assert funcs[0](prompts=prompts, completions=completions, **kwargs) == [1.0, 0.0]
    assert funcs[1](prompts=prompts, completions=completions, **kwargs) == [1.0, 0.0]
    assert transport.requests == ["/v1/rewards"]  # both components from one request
    conversational = [[{"role": "assistant", "content": c}] for c in completions]
    chat_prompts = [[{"role": "user", "content": p}] for p in prompts]
    assert funcs[0](prompts=chat_prompts, completions=conversational, **kwargs) == [1.0, 0.0]
    assert len(transport.requests) == 2


def test_trl_profile_weights_and_async_variant(live_server: str) -> None:
    funcs, weights = referee_async_reward_funcs(profile="r1-math", base_url=live_server)
    assert [f.__name__ for f in funcs] == ["math", "format"] and weights == [1.0, 1.0]
    assert all(asyncio.iscoroutinefunction(f) for f in funcs)

    async def main() -> list[list[float | None]]:
        args = {
            "prompts": ["p", "p"],
            "completions": ["<think>a</think> \\boxed{1}", "\\boxed{2}"],
            "answer": ["1", "1"],
        }
        return list(await asyncio.gather(*(f(**args) for f in funcs)))

    assert asyncio.run(main()) == [[1.0, 0.0], [1.0, 0.0]]


def test_verl_compute_score(live_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from clients import verl

    monkeypatch.setenv("REFEREE_URL", live_server)
    monkeypatch.setenv("REFEREE_REWARDS", "math=1,format=0.5")
    single = verl.compute_score(
        "openai/gsm8k", "<think>x</think> The answer is \\boxed{12}.", "12", {"index": 3}
    )
    assert single == {"score": 1.5, "math": 1.0, "format": 1.0}
    batch = verl.compute_score_batch(["a", "b"], ["\\boxed{1}", "\\boxed{3}"], [1, 2], [None, None])
    assert [b["score"] for b in batch] == [1.0, 0.0]


def test_openrlhf_local_reward_func(live_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from clients import openrlhf

    monkeypatch.setenv("REFEREE_URL", live_server)
    out = openrlhf.reward_func(
        ["Q: 1+1? <think>easy</think> \\boxed{2}", "Q: 1+1? \\boxed{3}"], ["Q: 1+1? ", "Q: 1+1? "], ["2", "2"]
    )
    assert torch.equal(out["rewards"], torch.tensor([2.0, 0.0]))  # r1-math: math + format
    assert set(out["extra_logs"]) == {"math", "format"} and out["extra_logs"]["math"].shape == (2,)


def test_score_cli(live_server: str, tmp_path: Path) -> None:
    source = tmp_path / "items.jsonl"
    source.write_text("".join(json.dumps(item) + "\n" for item in MATH_ITEMS * 3))
    result = subprocess.run(
        referee_command(
            "score", str(source), "--url", live_server, "--rewards", "math=1", "--batch-size", "4"
        ),
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in (tmp_path / "items.scored.jsonl").read_text().splitlines()]
    assert [line["reward"] for line in lines] == [1.0, 0.0, 1.0, 0.0, 1.0] * 3
    assert "15 items" in result.stdout and "0.6000" in result.stdout
    bad = subprocess.run(
        referee_command("score", str(source), "--url", live_server, "--rewards", "nope=1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and "unknown reward" in bad.stderr


def test_retry_budget_and_attempts_come_from_the_environment(
    flaky: tuple[str, dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, state = flaky
    monkeypatch.setenv("REFEREE_MAX_RETRIES", "1")
    with RefereeClient(url, backoff_s=0.01) as client, pytest.raises(RefereeError):
        client.score([{"completion": "a"}], rewards={"x": 1})
    assert state["calls"] == 2
    monkeypatch.setenv("REFEREE_MAX_RETRIES", "100")
    monkeypatch.setenv("REFEREE_RETRY_BUDGET_S", "0.3")
    state.update(calls=0, failures=10**6)
    started = time.monotonic()
    with RefereeClient(url, backoff_s=0.05) as client, pytest.raises(RefereeError):
        client.score([{"completion": "a"}], rewards={"x": 1})
    assert 0.3 <= time.monotonic() - started < 5  # stopped by the time budget, not the attempts
    monkeypatch.setenv("REFEREE_RETRY_BUDGET_S", "soon")
    with pytest.raises(ValueError, match="REFEREE_RETRY_BUDGET_S"):
        RefereeClient(url)


def test_weights_parse_in_both_spellings_and_fail_clearly() -> None:
    assert parse_weights("math=1, format:0.1,repetition") == {"math": 1.0, "format": 0.1, "repetition": 1.0}
    with pytest.raises(ValueError, match="math=1,format=0.1"):
        parse_weights("math=high")


def test_concurrent_single_item_calls_share_one_request(live_server: str) -> None:
    """What verl's per-sample calls get: many threads, one `POST /v1/rewards`, each its own result."""
    transport = CountingTransport()
    scorer = ItemScorer(
        {"rewards": {"math": 1.0}}, RefereeClient(live_server, transport=transport), max_wait_ms=300
    )
    results: dict[int, float] = {}

    def call(index: int) -> None:
        results[index] = scorer.score(MATH_ITEMS[index]).reward

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(MATH_ITEMS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    scorer.close()
    assert [results[i] for i in range(len(MATH_ITEMS))] == [1.0, 0.0, 1.0, 0.0, 1.0]
    assert transport.requests == ["/v1/rewards"]


def test_async_single_item_calls_share_one_request(live_server: str) -> None:
    transport = CountingTransport()
    scorer = ItemScorer(
        {"profile": "r1-math"}, RefereeClient(live_server, transport=transport), max_wait_ms=300
    )

    async def main() -> list[float]:
        results = await asyncio.gather(*(scorer.score_async(item) for item in MATH_ITEMS))
        return [r.scores["math"] or 0.0 for r in results]

    assert asyncio.run(main()) == [1.0, 0.0, 1.0, 0.0, 1.0]
    scorer.close()
    assert transport.requests == ["/v1/rewards"]
