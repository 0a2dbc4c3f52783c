"""The HTTP contract through a real uvicorn: scoring, weights, errors, limits, auth, OpenRLHF."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import httpx
import pytest
from pydantic import BaseModel, ConfigDict

from service.grading.errors import ErrorKind
from service.items import Item
from service.rewards.base import Profile, Registry, Reward, RewardContext, Score
from service.rewards.registry import PROFILES, REWARDS
from tests.server_utils import running_server


class ScaleParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    factor: float = 1.0


def length_score(items: Sequence[Item], params: ScaleParams, ctx: RewardContext) -> list[Score]:
    """Completion length in characters times `factor`; empty completions cannot be scored."""
    return [
        Score(len(i.text) * params.factor)
        if i.text
        else Score.fail(ErrorKind.invalid_item, "empty completion")
        for i in items
    ]


def broken(items: Sequence[Item], params: BaseModel, ctx: RewardContext) -> list[Score]:
    raise ZeroDivisionError("boom")


def double_of_length(items: Sequence[Item], params: BaseModel, ctx: RewardContext) -> list[Score]:
    return [Score(None if s.value is None else 2 * s.value, s.error) for s in ctx.scores["t_len"]]


def needs_gold(items: Sequence[Item], params: BaseModel, ctx: RewardContext) -> list[Score]:
    return [Score(float(i.text == i.answer)) for i in items]


def needs_missing_resource(items: Sequence[Item], params: BaseModel, ctx: RewardContext) -> list[Score]:
    return [Score(0.0) for _ in items]


TEST_REWARDS = {
    "t_len": Reward(length_score, ScaleParams),
    "t_broken": Reward(broken),
    "t_double": Reward(double_of_length, depends_on=lambda p: ("t_len",)),
    "t_gold": Reward(needs_gold, requires=("answer",)),
    "t_model": Reward(
        needs_missing_resource, resources=("verifier",), unavailable_hint="start the server with --model"
    ),
}


TEST_REGISTRY = Registry(
    {**REWARDS, **TEST_REWARDS},
    {
        **PROFILES,
        "t-profile": Profile({"t_len": 1.0, "t_gold": 10.0}, {"t_len": {"factor": 2.0}}),
        # /get_reward scores with the `openrlhf_profile` setting: these tests point it here.
        "t-openrlhf": Profile({"t_len": 1.0, "t_gold": 10.0}),
    },
)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server(
        registry=TEST_REGISTRY, max_items=50, max_body_bytes=200_000, openrlhf_profile="t-openrlhf"
    ) as url:
        yield url


def post(url: str, body: dict, **kwargs) -> httpx.Response:
    return httpx.post(f"{url}/v1/rewards", json=body, timeout=60, **kwargs)


def test_weighted_sum_order_and_ids(server: str) -> None:
    body = {
        "rewards": {"t_len": 0.5, "t_gold": 2.0},
        "items": [
            {"id": "a", "completion": "abcd", "answer": "abcd"},
            {"completion": "xy", "answer": "no"},
            {"id": 7, "completion": [{"role": "assistant", "content": "xyz"}], "answer": "xyz"},
        ],
    }
    response = post(server, body)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["id"] for r in results] == ["a", "1", "7"]
    assert [r["scores"] for r in results] == [
        {"t_len": 4.0, "t_gold": 1.0},
        {"t_len": 2.0, "t_gold": 0.0},
        {"t_len": 3.0, "t_gold": 1.0},
    ]
    assert [r["reward"] for r in results] == [4.0, 1.0, 3.5]


def test_failed_scores_are_null_count_zero_and_keep_the_batch(server: str) -> None:
    body = {"rewards": {"t_len": 1.0, "t_broken": 1.0}, "items": [{"completion": "abc"}, {"completion": ""}]}
    results = post(server, body).json()["results"]
    assert results[0]["scores"] == {"t_len": 3.0, "t_broken": None}
    assert results[0]["reward"] == 3.0
    assert "ZeroDivisionError" in results[0]["errors"]["t_broken"]
    assert (
        results[1]["scores"]["t_len"] is None
        and results[1]["errors"]["t_len"] == "invalid_item: empty completion"
    )
    assert results[1]["reward"] == 0.0


def test_params_and_dependencies(server: str) -> None:
    body = {
        "rewards": {"t_double": 1.0},
        "params": {"t_len": {"factor": 10}},
        "items": [{"completion": "ab"}],
    }
    result = post(server, body).json()["results"][0]
    assert result["scores"] == {"t_len": 20.0, "t_double": 40.0}
    assert result["reward"] == 40.0  # t_len was computed for t_double only: weight 0


def test_profile(server: str) -> None:
    body = {"profile": "t-profile", "items": [{"completion": "ab", "answer": "ab"}]}
    assert post(server, body).json()["results"][0]["reward"] == 14.0  # the profile's factor 2
    body["params"] = {"t_len": {"factor": 3.0}}
    assert post(server, body).json()["results"][0]["reward"] == 16.0  # request params win


def test_empty_batch(server: str) -> None:
    response = post(server, {"rewards": {"t_len": 1}, "items": []})
    assert response.status_code == 200 and response.json()["results"] == []


@pytest.mark.parametrize(
    ("body", "loc", "fragment"),
    [
        ({"rewards": {"nope": 1}, "items": []}, ["body", "rewards", "nope"], "known rewards: "),
        ({"profile": "nope", "items": []}, ["body", "profile"], "known profiles: "),
        (
            {"rewards": {"t_len": 1}, "items": [{"prompt": "p"}]},
            ["body", "items", 0, "completion"],
            "required",
        ),
        (
            {"rewards": {"t_len": 1}, "params": {"t_len": {"factor": "x"}}, "items": []},
            ["body", "params", "t_len", "factor"],
            "number",
        ),
        (
            {"rewards": {"t_len": 1}, "params": {"t_len": {"bogus": 1}}, "items": []},
            ["body", "params", "t_len", "bogus"],
            "not permitted",
        ),
        (
            {"rewards": {"t_len": 1}, "params": {"nope": {}}, "items": []},
            ["body", "params", "nope"],
            "unknown",
        ),
        (
            {"rewards": {"t_gold": 1}, "items": [{"completion": "a", "answer": "a"}, {"completion": "b"}]},
            ["body", "items", 1, "answer"],
            "t_gold",
        ),
        ({"rewards": {"t_model": 1}, "items": []}, ["body", "rewards", "t_model"], "--model"),
        ({"rewards": {"t_len": 1}, "profile": "t-profile", "items": []}, ["body"], "exactly one"),
        ({"rewards": {"t_len": 1}, "items": [{"completion": 5}]}, ["body", "items", 0, "completion"], ""),
        ({"rewards": {"t_len": 1}, "items": "many"}, ["body", "items"], "list"),
    ],
)
def test_bad_input_is_422_naming_the_field(server: str, body: dict, loc: list, fragment: str) -> None:
    response = post(server, body)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert any(e["loc"][: len(loc)] == loc and fragment in e["msg"] for e in errors), errors


def test_malformed_json_is_422(server: str) -> None:
    response = httpx.post(
        f"{server}/v1/rewards",
        content=b'{"items": [',
        timeout=30,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_limits_are_413(server: str) -> None:
    too_many = post(server, {"rewards": {"t_len": 1}, "items": [{"completion": "a"}] * 51})
    assert too_many.status_code == 413 and too_many.json()["detail"][0]["loc"] == ["body", "items"]
    too_big = post(server, {"rewards": {"t_len": 1}, "items": [{"completion": "a" * 300_000}]})
    assert too_big.status_code == 413 and "larger than" in too_big.json()["detail"][0]["msg"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while streaming
        yield b'{"rewards": {"t_len": 1}, "items": [{"completion": "'
        for _ in range(30):
            yield b"a" * 10_000
        yield b'"}]}'

    streamed = httpx.post(
        f"{server}/v1/rewards", content=chunks(), timeout=30, headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413


def test_catalog_lists_rewards_params_and_availability(server: str) -> None:
    catalog = httpx.get(f"{server}/v1/rewards", timeout=30).json()
    by_name = {r["name"]: r for r in catalog["rewards"]}
    assert by_name["t_len"]["params"]["properties"]["factor"]["default"] == 1.0
    assert by_name["t_len"]["description"].startswith("Completion length")
    assert by_name["t_gold"]["requires"] == ["answer"]
    code = by_name["code"]
    assert code["requires_one_of"][0] == "tests" and "input_output" in code["requires_one_of"]
    assert {"python", "cpp"} <= set(code["info"]["sandbox_languages"])  # what this server can run
    assert by_name["t_model"]["available"] is False and "--model" in by_name["t_model"]["unavailable_reason"]
    assert catalog["profiles"]["t-profile"] == {
        "weights": {"t_len": 1.0, "t_gold": 10.0},
        "params": {"t_len": {"factor": 2.0}},
    }


def test_metrics_count_items_and_errors(server: str) -> None:
    post(server, {"rewards": {"t_len": 1.0}, "items": [{"completion": "a"}, {"completion": ""}]})
    text = httpx.get(f"{server}/metrics", timeout=30).text
    assert 'referee_items_scored_total{reward="t_len"}' in text
    assert 'referee_score_errors_total{kind="invalid_item",reward="t_len"}' in text
    assert "referee_request_seconds_bucket" in text


def test_openrlhf_get_reward(server: str) -> None:
    body = {
        "query": ["Q: 1+1? A: 2", "Q: 2+2? A: 5"],
        "prompts": ["Q: 1+1? A: ", "Q: 2+2? A: "],
        "labels": ["2", "4"],
    }
    response = httpx.post(f"{server}/get_reward", json=body, timeout=30)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["rewards"] == [11.0, 1.0]
    assert data["scores"] == [1.0, 1.0]  # the profile's first reward (t_len), for OpenRLHF's filtering
    assert data["extra_logs"] == {"t_len": [1.0, 1.0], "t_gold": [1.0, 0.0]}

    missing_label = httpx.post(f"{server}/get_reward", json={"query": ["x"], "prompts": [""]}, timeout=30)
    assert missing_label.status_code == 422
    assert missing_label.json()["detail"][0]["loc"] == ["body", "labels", 0]
    uneven = httpx.post(f"{server}/get_reward", json={"query": ["x", "y"], "labels": ["1"]}, timeout=30)
    assert uneven.status_code == 422


def test_api_key() -> None:
    with running_server(api_key="s3cret") as url:
        assert httpx.get(f"{url}/healthz").status_code == 200
        denied = httpx.get(f"{url}/v1/rewards")
        assert denied.status_code == 401 and denied.json()["detail"][0]["type"] == "unauthorized"
        assert httpx.get(f"{url}/metrics").status_code == 401
        assert httpx.get(f"{url}/v1/rewards", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(f"{url}/v1/rewards", headers={"Authorization": "Bearer s3cret"}).status_code == 200
