"""Agent trajectories through the real server and the official client: golden scores in four
encodings, assistant-only credit, per-turn credit, the step-row conversion, and junk that must not
break anything."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clients.agent import items_from_step_rows, onto_rows
from clients.client import RefereeClient
from service.grading.trajectory.environment import anchor, holds
from service.grading.trajectory.turns import (
    ToolCall,
    assistant_turns,
    call_problems,
    decode_arguments,
    tool_schemas,
)
from service.items import Message
from tests.data.agent_trajectories import (
    CALCULATOR_TOOLS,
    MAX_TURNS,
    SHOP_TOOLS,
    Case,
    cases,
    extra_fields,
    item,
    step_rows,
)
from tests.server_utils import referee_command

REWARDS = {
    "final_answer": 1.0,
    "tool_call_validity": 0.2,
    "efficiency": 0.1,
    "action_format": 0.1,
    "env_outcome": 1.0,
}
PARAMS = {
    "final_answer": {"from": "tag:answer"},
    "efficiency": {"max_turns": MAX_TURNS},
    "action_format": {"layout": "tool_or_answer"},
}


def encoded(case: Case) -> dict[str, dict[str, Any]]:
    every = {encoding: item(case, encoding) for encoding in ("openai", "trl", "hermes")}
    (rows_item,) = items_from_step_rows(step_rows(case), extra=lambda row: extra_fields(case))
    every["openmanus"] = rows_item
    return every


@pytest.fixture(scope="module")
def client(live_server: str) -> RefereeClient:
    return RefereeClient(live_server)


def test_golden_scores_are_the_same_in_all_four_encodings(client: RefereeClient) -> None:
    all_cases = cases()
    batch = [(case, encoding, fields) for case in all_cases for encoding, fields in encoded(case).items()]
    response = client.score(
        [fields for _, _, fields in batch], rewards=REWARDS, params=PARAMS, turns={"gamma": 1.0}
    )
    by_case: dict[str, dict[str, dict[str, float | None]]] = {}
    for (case, encoding, _), result in zip(batch, response.results, strict=True):
        by_case.setdefault(case.name, {})[encoding] = result.scores
        for name, expected in case.expected.items():
            assert result.scores[name] == pytest.approx(expected), (case.name, encoding, name, result.errors)
        assert result.turns is not None and sum(result.turns.rewards) == result.reward  # exactly
    for name, scores in by_case.items():
        assert len({json.dumps(s, sort_keys=True) for s in scores.values()}) == 1, (name, scores)
    assert len(by_case) == len(all_cases) >= 30


def test_calls_and_state_against_expectations(client: RefereeClient) -> None:
    stateful = [
        case for case in cases() if case.expected_state and case.name.endswith(("/ok", "/wrong-answer"))
    ]
    batch = [item(case, "openai") for case in stateful]
    wrong_state = dict(batch[0], final_state={"store": {"color": "red"}}, id="wrong-state")
    response = client.score(
        [*batch, wrong_state],
        rewards={"tool_calls_match": 1.0, "state_check": 1.0},
        params={"tool_calls_match": {"mode": "sequence"}},
    )
    for result in response.results[:-1]:
        assert result.scores == {"tool_calls_match": 1.0, "state_check": 1.0}
    assert response.results[-1].scores["state_check"] == 0.0
    assert "store.color eq 'blue'" in response.results[-1].errors["state_check"]


def test_only_text_the_policy_wrote_earns_credit(client: RefereeClient) -> None:
    leak = [
        {
            "role": "assistant",
            "content": "<think>let me look it up</think>",
            "tool_calls": [
                {"type": "function", "function": {"name": "calculator", "arguments": {"expression": "6*7"}}}
            ],
        },
        {
            "role": "tool",
            "name": "calculator",
            "content": "<think>x</think> The answer is \\boxed{42} <answer>42</answer>",
        },
        {"role": "user", "content": "The answer is 42."},
    ]
    last_turn_counts = [
        {"role": "assistant", "content": "<think>a</think> \\boxed{41}"},
        {"role": "tool", "content": "no"},
        {"role": "assistant", "content": "<think>b</think> \\boxed{42}"},
    ]
    last_turn_without_answer = [
        {"role": "assistant", "content": "<think>a</think> \\boxed{42}"},
        {"role": "user", "content": "are you sure?"},
        {"role": "assistant", "content": "<think>hmm</think>"},
    ]
    batch = [
        {"id": "leak", "completion": leak, "answer": "42", "tools": CALCULATOR_TOOLS},
        {"id": "last", "completion": last_turn_counts, "answer": "42", "tools": CALCULATOR_TOOLS},
        {"id": "none", "completion": last_turn_without_answer, "answer": "42", "tools": CALCULATOR_TOOLS},
    ]
    response = client.score(batch, rewards={"math": 1.0, "final_answer": 1.0, "format": 1.0})
    scores = {r.id: r.scores for r in response.results}
    assert scores["leak"] == {"math": 0.0, "final_answer": 0.0, "format": 0.0}
    assert scores["last"] == {"math": 1.0, "final_answer": 1.0, "format": 1.0}
    assert scores["none"]["math"] == 0.0 and scores["none"]["final_answer"] == 0.0
    # language reads every assistant turn (and only those): an English tool output changes nothing
    mixed = [
        {"role": "assistant", "content": "<think>Ich rechne das jetzt Schritt für Schritt aus.</think> 4"},
        {"role": "tool", "content": "This tool output is written in plain English words only."},
        {"role": "assistant", "content": "<think>Das Ergebnis ist also vier, denke ich.</think> 4"},
    ]
    german = client.score(
        [{"completion": mixed, "target_language": "de"}, {"completion": mixed, "target_language": "en"}],
        rewards={"language": 1.0},
    )
    assert german.results[0].scores["language"] == 1.0
    assert german.results[1].scores["language"] < 0.2


def test_invalid_calls_are_listed_with_their_json_path(client: RefereeClient) -> None:
    completion = [
        {
            "role": "assistant",
            "content": "<think>t</think>",
            "tool_calls": [
                {
                    "id": "1",
                    "type": "function",
                    "function": {"name": "search", "arguments": '{"query": "mug"}'},
                },
                {
                    "id": "2",
                    "type": "function",
                    "function": {"name": "add_to_cart", "arguments": {"item_id": "m2", "quantity": 0}},
                },
                {"name": "add_to_cart", "arguments": '"{\\"item_id\\": \\"m2\\", \\"quantity\\": 1}"'},
                {"name": "checkout", "arguments": {}},
            ],
        },
        {
            "role": "assistant",
            "content": '<think>t</think><tool_call>{"name": "search", "arguments": {"query": 5}}</tool_call>'
            '<tool_call>{"name": "search"',
        },
    ]
    (result,) = client.score(
        [{"completion": completion, "tools": SHOP_TOOLS}], rewards={"tool_call_validity": 1.0}
    ).results
    assert result.scores["tool_call_validity"] == pytest.approx(2 / 6)  # 1 and the double-encoded 3
    error = result.errors["tool_call_validity"]
    assert "call 2: $.quantity: 0 is less than the minimum of 1" in error
    assert "call 4: unknown tool 'checkout'" in error
    assert "call 5: $.query: 5 is not of type 'string'" in error
    assert "call 6: the <tool_call> block is not valid JSON" in error


def test_per_turn_credit_in_a_grid_world_that_revisits_a_state(client: RefereeClient) -> None:
    """Observations A, B, A: the first and third turns share an anchor; returns by hand at γ = 0.5."""
    trajectory = [
        {"role": "assistant", "content": "<think>go right</think><action>right</action>"},
        {"role": "user", "content": "You are at  (0, 1).\n"},
        {"role": "assistant", "content": "<think>go left</think><action>left</action>"},
        {"role": "user", "content": "You are at (0, 0)."},
        {"role": "assistant", "content": "<action>up</action>"},  # no think block: breaks the layout
    ]
    fields = {"prompt": "You are at (0, 0).", "completion": trajectory, "step_rewards": [0.0, 0.0, 1.0]}
    response = client.score(
        [fields],
        rewards={"env_outcome": 1.0, "action_format": 0.1},
        params={"action_format": {"aggregate": "penalty"}},
        turns={"gamma": 0.5},
    )
    (result,) = response.results
    turns = result.turns
    assert turns is not None
    assert result.reward == pytest.approx(1.0 - 0.1)
    assert turns.message_index == [0, 2, 4]
    assert turns.rewards == pytest.approx([0.0, 0.0, 0.9])
    assert turns.returns == pytest.approx([0.225, 0.45, 0.9])
    assert turns.scores["action_format"] == [1.0, 1.0, 0.0]
    assert turns.scores["env_outcome"] == [0.0, 0.0, 1.0]
    assert turns.anchors[0] == turns.anchors[2] == anchor("You are at (0, 0).") != turns.anchors[1]
    assert turns.anchors[1] == anchor("You are at (0, 1).")  # whitespace-normalised
    given_anchors = client.score(
        [dict(fields, anchors=["s0", "s1", "s0"])], rewards={"env_outcome": 1.0}, turns={}
    )
    assert given_anchors.results[0].turns is not None and given_anchors.results[0].turns.anchors == [
        "s0",
        "s1",
        "s0",
    ]


def alfworld_rows(traj: str, actions: list[str], won: bool) -> list[dict[str, Any]]:
    """verl-agent-style step rows of one ALFWorld-like episode."""
    observations = ["You are in a room. Your task: put a mug on the desk."] + [
        f"Nothing happens ({n})." for n in range(1, len(actions))
    ]
    return [
        {
            "uid": "episode-group-1",
            "traj_uid": traj,
            "anchor_obs": observation,
            "observation": observation,
            "action": action,
            "reward": 10.0 if won and n == len(actions) - 1 else 0.0,
            "done": n == len(actions) - 1,
            "won": won and n == len(actions) - 1,
            "is_action_valid": True,
        }
        for n, (observation, action) in enumerate(zip(observations, actions, strict=True))
    ]


def test_step_rows_round_trip_with_per_step_rewards(client: RefereeClient) -> None:
    rows = alfworld_rows(
        "a",
        [
            "<think>find a mug</think><action>go to shelf 1</action>",
            "<think></think><action>take mug 1</action>",
            "<think>now the desk</think><action>put mug 1 in/on desk 1</action>",
        ],
        won=True,
    ) + alfworld_rows(
        "b",
        ["<think>look</think><action>look</action>", "<think>wait</think><action>wait</action>"],
        won=False,
    )
    items = items_from_step_rows(rows)
    assert items[0]["completion"][1] == {"role": "user", "content": "Nothing happens (1)."}
    assert items[0]["step_rewards"] == [0.0, 0.0, 10.0] and items[0]["success"] is True
    response = client.score(items, profile="openmanus", turns={"gamma": 1.0})
    per_row = onto_rows(rows, response)
    rewards = {r.id: r.reward for r in response.results}
    assert rewards == pytest.approx({"a": 1.0 - 0.1, "b": 0.0})  # won minus one invalid turn; lost, all valid
    assert [p["scores"]["action_format"] for p in per_row] == [1.0, 0.0, 1.0, 1.0, 1.0]
    assert [p["turn_reward"] for p in per_row] == pytest.approx([0.0, -0.1, 1.0, 0.0, 0.0])
    for traj in ("a", "b"):
        mine = [p for p, row in zip(per_row, rows, strict=True) if row["traj_uid"] == traj]
        assert sum(p["turn_reward"] for p in mine) == pytest.approx(rewards[traj])
    assert per_row[0]["anchor"] == rows[0]["anchor_obs"]  # passed through as given


def test_profiles_and_clear_errors(live_server: str) -> None:
    case = next(case for case in cases() if case.name == "calculator/ok")
    body = {"profile": "tool-use", "items": [item(case, "openai")]}
    result = httpx.post(f"{live_server}/v1/rewards", json=body, timeout=60).json()["results"][0]
    assert result["reward"] == pytest.approx(1.0 + 0.2 + 0.1 * (1 - 2 / 10))
    bad = [
        (
            {"rewards": {"tool_call_validity": 1}, "items": [{"completion": "x", "tools": "calculator"}]},
            ["body", "items", 0, "tools"],
        ),
        (
            {"rewards": {"tool_call_validity": 1}, "items": [{"completion": "x"}]},
            ["body", "items", 0, "tools"],
        ),
        (
            {
                "rewards": {"action_format": 1},
                "params": {"action_format": {"layout": ["no spaces"]}},
                "items": [{"completion": "x"}],
            },
            ["body", "params", "action_format", "layout"],
        ),
        (
            {
                "rewards": {"final_answer": 1},
                "params": {"final_answer": {"from": "tool:x"}},
                "items": [{"completion": "x", "answer": "1"}],
            },
            ["body", "params", "final_answer", "from"],
        ),
        (
            {"rewards": {"env_outcome": 1}, "turns": {"gamma": 2}, "items": [{"completion": "x"}]},
            ["body", "turns", "gamma"],
        ),
    ]
    for request, where in bad:
        response = httpx.post(f"{live_server}/v1/rewards", json=request, timeout=60)
        assert response.status_code == 422, response.text
        assert any(error["loc"][: len(where)] == where for error in response.json()["detail"]), response.text


def test_domain_helpers() -> None:
    assert decode_arguments('"{\\"a\\": 1}"') == ({"a": 1}, None)  # double-encoded, as vLLM sometimes sends
    assert decode_arguments(None) == ({}, None)
    assert decode_arguments("[1]")[0] is None and decode_arguments("{")[0] is None
    schemas = tool_schemas(SHOP_TOOLS + CALCULATOR_TOOLS)
    assert set(schemas) == {"search", "add_to_cart", "calculator"}
    with pytest.raises(ValueError):
        tool_schemas([{"type": "function"}])
    turns = assistant_turns(
        [Message(role="assistant", content='<tool_call>{"name": "search", "arguments": {"query": "m"}}')]
    )
    assert [call.name for call in turns[0].calls] == ["search"]  # an unclosed last block, as vLLM reads it
    assert call_problems(turns[0].calls[0], schemas) == []
    broken_schema = {"bad": {"type": "object", "properties": {"x": {"type": "no-such-type"}}}}
    assert "schema is unusable" in call_problems(ToolCall("bad", {"x": 1}, 0), broken_schema)[0]
    state = {"cart": {"items": [{"id": "m2"}], "total": 9}, "tags": ["a"]}
    assert holds(state, "cart.items.0.id", "eq", "m2") and holds(
        state, "cart.items.-1.id", "in", ["m2", "m1"]
    )
    assert holds(state, "tags", "contains", "a") and holds(state, "cart.total", "gte", 9)
    assert holds(state, "cart.missing", "exists", False) and not holds(state, "cart.items.5", "exists")
    assert not holds(state, "cart.total", "lte", "ten")  # incomparable: does not hold, never raises
    assert anchor("a  b\n") == anchor(" a b") != anchor("a c")


message = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["assistant", "assistant", "tool", "user", "system"]),
        "content": st.one_of(
            st.none(),
            st.text(max_size=60),
            st.sampled_from(
                [
                    "<think>x</think><action>go</action>",
                    "<think></think>",
                    "<tool_call>{",
                    "<answer>4</answer>",
                ]
            ),
            st.lists(
                st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=20)}), max_size=2
            ),
        ),
    },
    optional={
        "tool_calls": st.lists(
            st.one_of(
                st.integers(),
                st.text(max_size=10),
                st.fixed_dictionaries(
                    {
                        "function": st.fixed_dictionaries(
                            {
                                "name": st.one_of(st.text(max_size=8), st.integers(), st.just("search")),
                                "arguments": st.one_of(
                                    st.text(max_size=20),
                                    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
                                    st.integers(),
                                    st.none(),
                                ),
                            }
                        )
                    }
                ),
            ),
            max_size=3,
        )
    },
)
trajectory = st.fixed_dictionaries(
    {
        "completion": st.one_of(st.text(max_size=40), st.lists(message, max_size=6)),
        "answer": st.sampled_from(["4", "m2", "x^2"]),
    },
    optional={
        "tools": st.just(SHOP_TOOLS),
        "step_rewards": st.lists(st.floats(-1, 1), max_size=4),
        "success": st.booleans(),
        "anchors": st.lists(st.text(max_size=5), max_size=4),
    },
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(trajectory, min_size=1, max_size=6))
def test_junk_trajectories_never_break_scoring(live_server: str, batch: list[dict[str, Any]]) -> None:
    body = {
        "rewards": {"final_answer": 1.0, "action_format": 0.5, "efficiency": 0.1, "env_outcome": 1.0},
        "params": {"final_answer": {"match": "exact"}},
        "items": batch,
        "turns": {"gamma": 0.9},
    }
    response = httpx.post(f"{live_server}/v1/rewards", json=body, timeout=120)
    assert response.status_code == 200, response.text
    for result in response.json()["results"]:
        for name in ("final_answer", "action_format", "efficiency"):
            assert 0.0 <= result["scores"][name] <= 1.0
        if result["scores"]["env_outcome"] is None:
            assert "env_outcome" in result["errors"]
        if result["turns"]["rewards"]:
            assert sum(result["turns"]["rewards"]) == result["reward"]


def test_trl_tool_calling_completions_and_the_score_cli(live_server: str, tmp_path: Path) -> None:
    """TRL hands its reward functions conversational completions with tool calls (object arguments)
    and `tool` messages as they are; `referee score` takes trajectory JSONL with `--turns`."""
    from clients.trl import referee_reward_funcs

    case = next(case for case in cases() if case.name == "calculator/malformed-json")
    trl_item = item(case, "trl")
    funcs, weights = referee_reward_funcs(
        {"tool_call_validity": 1.0, "final_answer": 1.0},
        base_url=live_server,
        params={"final_answer": {"from": "tag:answer"}},
    )
    kwargs = {"answer": [case.answer], "tools": [case.tools]}
    values = {
        f.__name__: f(prompts=[trl_item["prompt"]], completions=[trl_item["completion"]], **kwargs)[0]
        for f in funcs
    }
    assert values == {"tool_call_validity": pytest.approx(0.5), "final_answer": 1.0}

    source = tmp_path / "trajectories.jsonl"
    source.write_text("".join(json.dumps(item(c, "openai")) + "\n" for c in cases()[:5]))
    result = subprocess.run(
        referee_command(
            "score", str(source), "--url", live_server, "--profile", "tool-use", "--turns", "0.9"
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in (tmp_path / "trajectories.scored.jsonl").read_text().splitlines()]
    assert len(lines) == 5 and all(
        sum(line["turns"]["rewards"]) == pytest.approx(line["reward"]) for line in lines
    )


def test_hostile_schemas_paths_and_degenerate_text(client: RefereeClient) -> None:
    """Found in review: a `$ref` must not fetch files or URLs, odd paths must not raise, and layout
    checks stay linear on degenerate completions."""
    fetching = [{"type": "function", "function": {"name": "f", "parameters": {"$ref": "file:///dev/zero"}}}]
    call = {"role": "assistant", "content": "", "tool_calls": [{"name": "f", "arguments": {}}]}
    degenerate = "<think>x" + "</think><action>y</action>z" * 4000
    items = [
        {"completion": [call], "tools": fetching, "answer": "1"},
        {"completion": [{"role": "assistant", "content": degenerate}], "tools": fetching, "answer": "1"},
        {
            "completion": [{"role": "assistant", "content": "<answer>" * 30_000}],
            "tools": fetching,
            "answer": "1",
        },
    ]
    started = time.perf_counter()
    response = client.score(
        items,
        rewards={"tool_call_validity": 1.0, "action_format": 1.0, "final_answer": 1.0},
        params={
            "final_answer": {"from": "tag:answer", "match": "exact"},
            "action_format": {"layout": ["think", "action", "x"]},
        },
    )
    assert time.perf_counter() - started < 20
    first = response.results[0]
    assert first.scores["tool_call_validity"] == 0.0
    assert "schema is unusable: Unresolvable: file:///dev/zero" in first.errors["tool_call_validity"]
    assert (
        response.results[1].scores["action_format"] == 0.0
        and response.results[2].scores["final_answer"] == 0.0
    )
    odd_paths = client.score(
        [
            {
                "completion": "x",
                "final_state": {"a": [1]},
                "expected_state": [
                    {"path": "a.--1", "op": "eq", "value": 1},
                    {"path": "a.-1", "op": "eq", "value": 1},
                ],
            }
        ],
        rewards={"state_check": 1.0},
    )
    assert odd_paths.results[0].scores["state_check"] == 0.5


def test_rows_without_won_fall_back_on_step_rewards(client: RefereeClient) -> None:
    rows = [
        dict(row, reward=0.5)
        for row in alfworld_rows("c", ["<think>a</think><action>b</action>"] * 2, won=False)
    ]
    for row in rows:
        del row["won"]
    (fields,) = items_from_step_rows(rows)
    assert "success" not in fields
    assert client.score([fields], rewards={"env_outcome": 1.0}).results[0].reward == 1.0


def test_tool_call_ids_come_back_for_a_message(client: RefereeClient) -> None:
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "a",
                "type": "function",
                "function": {"name": "calculator", "arguments": '{"expression": "1+1"}'},
            },
            {
                "id": "b",
                "type": "function",
                "function": {"name": "calculator", "arguments": '{"expression": "2+2"}'},
            },
        ],
    }
    assert [(m["tool_call_id"], m["content"]) for m in client.call_tools(message=message)] == [
        ("a", "2"),
        ("b", "4"),
    ]


def test_tools_given_as_json_text_as_datasets_store_them(client: RefereeClient) -> None:
    completion = [
        {
            "role": "assistant",
            "content": '<tool_call>{"name": "search", "arguments": {"query": "mug"}}</tool_call>',
        }
    ]
    result = client.score(
        [{"completion": completion, "tools": json.dumps(SHOP_TOOLS)}], rewards={"tool_call_validity": 1.0}
    ).results[0]
    assert result.scores["tool_call_validity"] == 1.0
