"""The `math` reward: direct calls for its logic, the real server for timeouts, crashes and concurrency."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bench.math_accuracy import load_cases, load_peer_cases, plain_verdicts, referee_verdicts, summary
from service.items import Item
from service.rewards.base import RewardContext
from service.rewards.math import MathParams, math_reward
from service.runtime.resources import MATH_WARMUP, Resources
from service.runtime.worker_pool import Outcome, WorkerPool
from tests.server_utils import running_server

# Passes the static guards, yet sympy does not finish comparing it with a polynomial.
HANGS = "\\boxed{(x+1)^{9999}}"
HANGS_GOLD = "x^2+2x+1"
# Refused by the static guards in microseconds: what a policy under RL finds to stall a grader.
PATHOLOGICAL = [
    "\\boxed{9^{9^{9^{9}}}}",
    "\\boxed{" + "7" * 200_000 + "}",
    "\\boxed{" + "{" * 10_000 + "1" + "}" * 10_000 + "}",
    "\\boxed{" + "+".join(f"x^{{{i}}}" for i in range(20_000)) + "}",
    "\\boxed{99999999!}",
    "\\boxed{\\binom{10^{8}}{5 \\cdot 10^{7}}}",
    "\\boxed{\\sum_{k=1}^{10^{9}} k^{10^{9}}}",
    "\\boxed{12\x00}",
]


class RecordingPool:
    """Grades in-process and records what was sent to the pool."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    def map(self, fn: Any, args_list: list[tuple[Any, ...]], timeout: float) -> list[Outcome]:
        self.sent.extend(args_list)
        return [Outcome(value=fn(*args)) for args in args_list]


def test_identical_pairs_are_graded_once_and_plain_numbers_skip_the_pool() -> None:
    written = ["\\boxed{\\sqrt{2}/2}"] * 8 + ["\\boxed{\\frac{\\sqrt{2}}{2}}"] * 8
    group = [Item(completion=c, answer="\\frac{1}{\\sqrt{2}}") for c in written]
    plain = [
        Item(completion="so 42", answer="42"),
        Item(completion="The answer is 41.", answer="42"),
        Item(completion="\\boxed{\\frac{6}{8}}", answer="3/4"),
    ]
    pool = RecordingPool()
    scores = math_reward(group + plain, MathParams(), RewardContext(resources=Resources(math_pool=pool)))
    assert [s.value for s in scores] == [1.0] * 16 + [1.0, 0.0, 1.0]
    assert sorted(task.answer for (task,) in pool.sent) == ["\\frac{\\sqrt{2}}{2}", "\\sqrt{2}/2"]


def test_no_answer_is_wrong_not_an_error() -> None:
    scores = math_reward(
        [Item(completion="no idea", answer="3")],
        MathParams(),
        RewardContext(resources=Resources(math_pool=RecordingPool())),
    )
    assert scores[0].value == 0.0 and scores[0].error is None


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    pool = WorkerPool(2, name="math", preload=(MATH_WARMUP,))
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def server(pool: WorkerPool) -> Iterator[str]:
    with running_server(resources=Resources(math_pool=pool)) as url:
        yield url


def post_math(url: str, items: list[dict], **params: Any) -> list[dict]:
    body = {"rewards": {"math": 1.0}, "params": {"math": params}, "items": items}
    response = httpx.post(f"{url}/v1/rewards", json=body, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_timeout_scores_null_and_the_rest_of_the_batch_is_graded(server: str, pool: WorkerPool) -> None:
    items = [{"completion": HANGS, "answer": HANGS_GOLD}] + [
        {"completion": f"\\boxed{{\\frac{{{i}}}{{2}}}}", "answer": f"{i / 2}"} for i in range(1, 40)
    ]
    started = time.monotonic()
    results = post_math(server, items, timeout_s=1.0)
    elapsed = time.monotonic() - started
    assert results[0]["scores"]["math"] is None and results[0]["errors"]["math"] == "timeout"
    assert results[0]["reward"] == 0.0
    assert all(r["scores"]["math"] == 1.0 for r in results[1:])
    assert elapsed < 1.0 + 3.0  # the batch is not held hostage by the stuck item
    assert len(pool.worker_pids()) == 2  # the stuck worker was replaced


def test_unparseable_gold_is_null(server: str) -> None:
    result = post_math(server, [{"completion": "\\boxed{x^2}", "answer": ""}])[0]
    assert result["scores"]["math"] is None and result["errors"]["math"] == "gold_unparseable"


def test_a_worker_killed_mid_batch_loses_no_item(server: str, pool: WorkerPool) -> None:
    items = [
        {"completion": f"\\boxed{{\\sqrt{{{i * i * 2}}}}}", "answer": f"{i}\\sqrt{{2}}"}
        for i in range(2, 300)
    ]

    def kill_workers() -> None:
        time.sleep(0.3)
        for pid in pool.worker_pids():
            os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_workers)
    killer.start()
    results = post_math(server, items)
    killer.join()
    assert [r["scores"]["math"] for r in results] == [1.0] * len(items)


def test_concurrent_clients_get_the_same_results_as_sequential(server: str) -> None:
    cases = load_cases()[:120]
    items = [{"id": str(i), "completion": c["completion"], "answer": c["gold"]} for i, c in enumerate(cases)]
    batches = [items[i::8] for i in range(8)]
    sequential = [post_math(server, batch) for batch in batches]
    concurrent: dict[int, list[dict]] = {}

    def client(index: int) -> None:
        concurrent[index] = post_math(server, batches[index])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert all(not t.is_alive() for t in threads), "deadlock"
    assert [concurrent[i] for i in range(8)] == sequential


def test_referee_grades_the_hand_written_set_perfectly_and_better_than_plain_math_verify(
    pool: WorkerPool,
) -> None:
    cases = load_cases()
    referee = summary(cases, referee_verdicts(cases, pool))
    plain = summary(cases, plain_verdicts(cases, pool))
    assert referee["accuracy"] == 1.0
    assert referee["accuracy"] > plain["accuracy"] + 0.1


# math-verify's own labels that hold only for its LaTeX-only extraction (its suite's helper restricts
# `parse` there): plain `parse` finds the 9 through expression extraction, and so does Referee.
LABEL_NEEDS_LATEX_ONLY = {("$9$", "Answer $ \n 9 \n $"), ("$9$", "Answer \\( \n 9 \n \\)")}


def test_referee_is_right_wherever_math_verify_is_on_its_own_regression_cases(pool: WorkerPool) -> None:
    """The peer's public test-suite (tests/data/math_verify_cases.jsonl): at least its recall, and no
    false positive it does not also make."""
    cases = load_peer_cases()
    referee, plain = referee_verdicts(cases, pool), plain_verdicts(cases, pool)
    worse = [
        (c["gold"], c["completion"])
        for c, ours, theirs in zip(cases, referee, plain, strict=True)
        if theirs == c["correct"] and ours != c["correct"]
    ]
    assert worse == []
    wrong = {
        (c["gold"], c["completion"]) for c, ours in zip(cases, referee, strict=True) if ours != c["correct"]
    }
    assert wrong <= LABEL_NEEDS_LATEX_ONLY
    assert summary(cases, referee)["right"] >= summary(cases, plain)["right"]


def test_pathological_answers_are_refused_at_once_with_a_reason(server: str) -> None:
    items = [{"completion": c, "answer": "12"} for c in PATHOLOGICAL]
    started = time.monotonic()
    results = post_math(server, items)
    assert time.monotonic() - started < 2.0
    assert [r["scores"]["math"] for r in results] == [0.0] * len(PATHOLOGICAL)
    assert all(r["errors"]["math"].startswith("too_complex: ") for r in results), results


def test_a_batch_costs_one_timeout_however_many_answers_hang() -> None:
    """Hanging answers past the guards time out side by side on burst workers, not one after another."""
    burst_pool = WorkerPool(2, name="math", preload=(MATH_WARMUP,), burst=8, grow_after_s=0.2)
    try:
        # Ten distinct golds (trailing spaces), so the ten hanging pairs are not deduplicated into one.
        items = [Item(completion=HANGS, answer=HANGS_GOLD + " " * i) for i in range(10)]
        items += [Item(completion=f"\\boxed{{{i}}}", answer=str(i)) for i in range(20)]
        started = time.monotonic()
        scores = math_reward(
            items, MathParams(timeout_s=3.0), RewardContext(resources=Resources(math_pool=burst_pool))
        )
        elapsed = time.monotonic() - started
        assert [s.error.kind.value for s in scores[:10] if s.error] == ["timeout"] * 10
        assert [s.value for s in scores[10:]] == [1.0] * 20
        assert elapsed < 3.0 + 1.5, elapsed  # without burst workers: ceil(10 / 2) x 3 s = 15 s
    finally:
        burst_pool.close()


@pytest.mark.parametrize(
    ("gold", "completion", "expected"),
    [
        ("-1, 3", "\\boxed{3}", 0.0),  # a multi-valued gold is not its last number
        ("5", "so $x=\\boxed{5}$. Final answer: 7", 0.0),  # the stated final answer is the only reading
        ("7", "so $x=\\boxed{5}$. Final answer: 7", 1.0),
        ("5", "The answer is 7. Check: $x = 5$ works.", 0.0),
        (
            "A price rise of 25\\% gives $\\boxed{10}$.",
            "\\boxed{10^{3}}",
            0.0,
        ),  # units of the final answer only
        ("4\\sqrt{2}", "\\boxed{\\sqrt32}", 0.0),  # \sqrt32 is sqrt(3)*2
        (
            "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
            "\\boxed{\\begin{vmatrix}1&2\\\\3&4\\end{vmatrix}}",
            0.0,
        ),
        ("\\frac{31}{2}", "\\boxed{3 1/2}", 0.0),  # a mixed number is not 31/2
        ("A", "\\boxed{A or B}", 0.0),  # hedging between letters
        ("D", "Options: (A) 3 (B) 4 (C) 5 (D) 6. I think it is 4.", 0.0),  # restated options choose nothing
        ("C", "The correct option is C.", 1.0),
        ("xy", "\\boxed{x y}", 1.0),
    ],
)
def test_readings_that_must_not_earn_or_lose_credit(gold: str, completion: str, expected: float) -> None:
    score = math_reward(
        [Item(completion=completion, answer=gold)],
        MathParams(),
        RewardContext(resources=Resources(math_pool=RecordingPool())),
    )[0]
    assert score.value == expected, score


def test_hostile_whitespace_and_towers_cost_microseconds() -> None:
    completions = [
        "The answer is 5" + " " * 1500 + "apples",
        "1," * 5000,
        "\\boxed{9^(9^9)}",
        "\\boxed{3^{3^{3^{3}}}}",
        "\\boxed{(10^{6})!}",
    ]
    started = time.monotonic()
    scores = math_reward(
        [Item(completion=c, answer="5") for c in completions],
        MathParams(),
        RewardContext(resources=Resources(math_pool=RecordingPool())),
    )
    assert time.monotonic() - started < 1.0
    assert [s.error.kind.value for s in scores[2:] if s.error] == ["too_complex"] * 3
