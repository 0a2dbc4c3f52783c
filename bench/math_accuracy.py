"""Grading accuracy of Referee's `math` reward vs plain math-verify, on the labeled set in tests/data.

    python -m bench.math_accuracy [--by-category]

Plain math-verify is what an open-r1 user runs: `verify(parse(gold), parse(completion))` with the
library defaults. Referee is the `math` reward itself (extraction + grader + worker pool).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import defaultdict
from pathlib import Path

from service.api.schemas import Item
from service.rewards.base import RewardContext
from service.rewards.math import MathParams, math_reward
from service.runtime.resources import MATH_WARMUP, Resources
from service.runtime.worker_pool import WorkerPool

ROOT = Path(__file__).resolve().parent.parent

EVAL_SET = ROOT / "tests" / "data" / "math_eval.jsonl"


def load_cases() -> list[dict]:
    return [json.loads(line) for line in EVAL_SET.read_text().splitlines() if line.strip()]


def plain_math_verify(gold: str, completion: str) -> bool:
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    gold_text = gold if "$" in gold else f"${gold}$"
    return bool(
        verify(
            parse(gold_text, parsing_timeout=None),
            parse(completion, parsing_timeout=None),
            timeout_seconds=None,
        )
    )


def plain_verdicts(cases: list[dict], pool: WorkerPool) -> list[bool]:
    outcomes = pool.map(plain_math_verify, [(c["gold"], c["completion"]) for c in cases], timeout=10)
    return [bool(o.value) for o in outcomes]


def referee_verdicts(cases: list[dict], pool: WorkerPool) -> list[bool]:
    items = [Item(completion=c["completion"], answer=c["gold"]) for c in cases]
    scores = math_reward(items, MathParams(), RewardContext(resources=Resources(math_pool=pool)))
    return [s.value == 1.0 for s in scores]


def summary(cases: list[dict], verdicts: list[bool]) -> dict[str, float]:
    tp = sum(v and c["correct"] for c, v in zip(cases, verdicts, strict=True))
    fp = sum(v and not c["correct"] for c, v in zip(cases, verdicts, strict=True))
    fn = sum(not v and c["correct"] for c, v in zip(cases, verdicts, strict=True))
    right = sum(v == c["correct"] for c, v in zip(cases, verdicts, strict=True))
    return {
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "accuracy": right / len(cases),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--by-category", action="store_true", help="accuracy per category too")
    args = parser.parse_args()
    cases = load_cases()
    pool = WorkerPool(2, name="math", preload=(MATH_WARMUP,))
    try:
        results = {"math-verify": plain_verdicts(cases, pool), "referee": referee_verdicts(cases, pool)}
    finally:
        pool.close()
    print(f"{len(cases)} labeled cases ({sum(c['correct'] for c in cases)} correct answers)\n")
    print(f"{'grader':<12} {'precision':>9} {'recall':>7} {'accuracy':>8}")
    for name, verdicts in results.items():
        s = summary(cases, verdicts)
        print(f"{name:<12} {s['precision']:>9.3f} {s['recall']:>7.3f} {s['accuracy']:>8.3f}")
    if args.by_category:
        by_category: dict[str, list[int]] = defaultdict(list)
        for index, case in enumerate(cases):
            by_category[case["category"]].append(index)
        print(f"\n{'category':<12} {'cases':>5} {'math-verify':>11} {'referee':>8}")
        for category, indices in by_category.items():
            row = [sum(results[n][i] == cases[i]["correct"] for i in indices) / len(indices) for n in results]
            print(f"{category:<12} {len(indices):>5} {row[0]:>11.2f} {row[1]:>8.2f}")


if __name__ == "__main__":
    main()
