"""`reasoning_gym`: every registered dataset through `POST /v1/rewards`, as a client sends it (items
round-tripped through JSON), plus the repaired scorer bugs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import reasoning_gym

from service.grading.procedural import dataset_names
from tests.server_utils import running_server

SEED = 11
PER_DATASET = 3
# Datasets whose items carry no answer to check an oracle with: the scorer simulates the moves.
NO_ORACLE = {"boxnet", "rush_hour"}
# A mixer of the other datasets: its items carry the underlying dataset's name (tested below).
MIXER = {"composite"}
EXAMPLE_KEYS = ("example_answer", "example_correct_answer", "possible_answer")


def oracle(item: dict[str, Any]) -> str | None:
    """The item's answer, or the example solution in its metadata when it has no single answer."""
    if item["answer"] is not None:
        return str(item["answer"])
    for key in EXAMPLE_KEYS:
        if item["metadata"].get(key) is not None:
            example = item["metadata"][key]
            return example if isinstance(example, str) else json.dumps(example)
    return None


def generated(name: str, **config: Any) -> list[dict[str, Any]]:
    dataset = reasoning_gym.create_dataset(name, size=PER_DATASET, seed=SEED, **config)
    return [json.loads(json.dumps(dataset[i], default=str)) for i in range(PER_DATASET)]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server() as url:
        yield url


def score(url: str, items: list[dict[str, Any]], **params: Any) -> list[dict[str, Any]]:
    body = {"rewards": {"reasoning_gym": 1.0}, "params": {"reasoning_gym": params}, "items": items}
    response = httpx.post(f"{url}/v1/rewards", json=body, timeout=600)
    assert response.status_code == 200, response.text
    return response.json()["results"]


def as_item(row: dict[str, Any], completion: str) -> dict[str, Any]:
    return {
        "prompt": row["question"],
        "completion": completion,
        "answer": row["answer"],
        "metadata": row["metadata"],
    }


def test_every_dataset_scores_its_oracle_1_and_a_wrong_answer_below(server: str) -> None:
    names = [n for n in dataset_names() if n not in MIXER]
    assert len(names) >= 100
    rows = {name: generated(name) for name in names}
    without = {name for name, items in rows.items() if any(oracle(row) is None for row in items)}
    assert without == NO_ORACLE
    items, wrong = [], []
    for name, group in rows.items():
        for row in group:
            if name not in NO_ORACLE:
                items.append(as_item(row, f"Let me think. <answer>{oracle(row)}</answer>"))
            wrong.append(as_item(row, "<answer>definitely wrong 12345</answer>"))
            wrong.append(as_item(row, "I give up."))  # no answer tag at all
    right = score(server, items)
    failed = [
        (i["metadata"]["source_dataset"], r["scores"], r["errors"])
        for i, r in zip(items, right, strict=True)
        if r["reward"] != 1.0
    ]
    assert not failed, failed
    results = score(server, wrong)
    high = [
        (i["metadata"]["source_dataset"], i["completion"], r["scores"])
        for i, r in zip(wrong, results, strict=True)
        if r["scores"]["reasoning_gym"] is not None and r["scores"]["reasoning_gym"] >= 1.0
    ]
    assert not high, high


def test_repaired_scorers(server: str) -> None:
    arc = generated("arc_agi")[0]  # lists after JSON: the unrepaired scorer gives 0.05
    halting = generated("game_of_life_halting")
    puzzle = generated("puzzle24")[0]
    foreign = "4*6*1*1" if sorted(puzzle["metadata"]["numbers"]) != [1, 1, 4, 6] else "3*8*1*1"
    items = [
        as_item(arc, f"<answer>{arc['answer']}</answer>"),
        *[
            as_item(row, f"<answer>{'False' if row['answer'] == 'True' else 'True'}</answer>")
            for row in halting
        ],
        *[as_item(row, f"<answer>{row['answer']}</answer>") for row in halting],
        as_item(puzzle, f"<answer>{foreign}</answer>"),
    ]
    results = [r["reward"] for r in score(server, items)]
    assert results[0] == 1.0
    assert results[1 : 1 + len(halting)] == [0.0] * len(halting)  # the original scored every answer 1.0
    assert results[1 + len(halting) : -1] == [1.0] * len(halting)
    assert results[-1] == pytest.approx(0.01)
    loose = score(server, items[-1:], strict=False)
    assert loose[0]["reward"] == 1.0  # reasoning-gym's own scorer never checks the numbers


def test_extraction_binary_and_bad_items(server: str) -> None:
    row = generated("basic_arithmetic")[0]
    boxed = as_item(row, f"so \\boxed{{{row['answer']}}}")
    partial = as_item(generated("number_sorting")[0], "<answer>['1']</answer>")
    results = score(server, [boxed, partial], extract="boxed")
    assert results[0]["reward"] == 1.0 and results[1]["reward"] < 1.0
    native = score(server, [as_item(generated("letter_jumble")[0], "<answer>x y</answer>")])[0]["reward"]
    binary = score(
        server, [as_item(generated("letter_jumble")[0], "<answer>x y</answer>")], binary=True, threshold=0.5
    )
    assert binary[0]["scores"]["reasoning_gym/native"] == native and binary[0]["reward"] == float(
        native >= 0.5
    )
    bad = score(
        server,
        [{"completion": "x", "metadata": {"source_dataset": "nope"}}, {"completion": "x", "metadata": "x"}],
    )
    no_gold = as_item(generated("game_of_life_halting")[0], "<answer>None</answer>") | {"answer": None}
    bad += score(server, [no_gold])  # without its gold, "None" must not match str(None)
    assert [r["scores"]["reasoning_gym"] for r in bad] == [None, None, None]
    assert "unknown reasoning-gym dataset 'nope'" in bad[0]["errors"]["reasoning_gym"]
    missing = httpx.post(
        f"{server}/v1/rewards",
        json={"rewards": {"reasoning_gym": 1.0}, "items": [{"completion": "x"}]},
        timeout=30,
    )
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == [
        "body",
        "items",
        0,
        "metadata",
    ]


def test_composite_items_are_scored_by_their_own_dataset(server: str) -> None:
    from reasoning_gym.composite import DatasetSpec

    rows = generated("composite", datasets=[DatasetSpec(name="chain_sum", weight=1, config={})])
    results = score(server, [as_item(row, f"<answer>{row['answer']}</answer>") for row in rows])
    assert [r["reward"] for r in results] == [1.0] * len(rows)


def test_through_the_verl_and_trl_adapters(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """reasoning-gym rows as trainers hold them: verl's `extra_info`, TRL's dataset columns."""
    from clients import verl
    from clients.trl import referee_reward_funcs

    rows = generated("chain_sum")
    monkeypatch.setenv("REFEREE_URL", server)
    monkeypatch.setenv("REFEREE_REWARDS", "reasoning_gym=1")
    scored = verl.compute_score_batch(
        ["reasoning_gym"] * len(rows),
        [f"<answer>{row['answer']}</answer>" if i else "<answer>-1</answer>" for i, row in enumerate(rows)],
        [row["answer"] for row in rows],
        [{"metadata": row["metadata"], "question": row["question"]} for row in rows],
    )
    assert [s["score"] for s in scored] == [0.0] + [1.0] * (len(rows) - 1)
    funcs, _ = referee_reward_funcs({"reasoning_gym": 1.0}, base_url=server)
    values = funcs[0](
        prompts=[row["question"] for row in rows],
        completions=[f"<answer>{row['answer']}</answer>" for row in rows],
        answer=[row["answer"] for row in rows],
        metadata=[row["metadata"] for row in rows],
    )
    assert values == [1.0] * len(rows)


def test_a_hanging_scorer_nulls_only_its_item(server: str) -> None:
    """puzzle24's scorer hands the answer to sympy: a power tower hangs it. The chunk it is in times
    out, is re-run one item per call, and only the hostile item is null."""
    puzzle = generated("puzzle24")[0]
    sums = generated("chain_sum")
    items = [
        as_item(puzzle, "<answer>9**9**9**9</answer>"),
        *[as_item(row, f"<answer>{row['answer']}</answer>") for row in sums],
    ]
    started = time.monotonic()
    results = score(server, items, timeout_s=2)
    assert results[0]["scores"]["reasoning_gym"] is None and results[0]["errors"]["reasoning_gym"].startswith(
        "timeout"
    )
    assert [r["reward"] for r in results[1:]] == [1.0] * len(sums)
    assert time.monotonic() - started < 30
