"""Grading accuracy of Referee's `math` reward vs plain math-verify, on two labeled sets in tests/data.

    python -m bench.math_accuracy [--by-category]

- `math_verify_cases.jsonl`: math-verify's own regression cases (its public test-suite, Apache-2.0;
  see `tests/data/build_math_verify_cases.py`), strings exactly as its tests pass them to `parse`.
- `math_eval.jsonl`: Referee's hand-written set (392 cases, `tests/data/build_math_eval.py`).

Plain math-verify is what an open-r1 user runs: `verify(parse(gold), parse(completion))` with the
library defaults (the hand-written set's golds wrapped in `$…$`, as such a user must). Referee is the
`math` reward itself (extraction + grader + worker pool).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import defaultdict
from pathlib import Path

from service.items import Item
from service.rewards.base import RewardContext
from service.rewards.math import MathParams, math_reward
from service.runtime.resources import MATH_WARMUP, Resources
from service.runtime.worker_pool import WorkerPool

ROOT = Path(__file__).resolve().parent.parent

EVAL_SET = ROOT / "tests" / "data" / "math_eval.jsonl"
PEER_SET = ROOT / "tests" / "data" / "math_verify_cases.jsonl"


def load_cases() -> list[dict]:
    """The hand-written set: `gold`, `completion`, `correct`, `category`."""
    return [json.loads(line) for line in EVAL_SET.read_text().splitlines() if line.strip()]


def load_peer_cases() -> list[dict]:
    """math-verify's regression cases in the same shape (`wrap_gold` off: golds are used as given)."""
    rows = [json.loads(line) for line in PEER_SET.read_text().splitlines() if line.strip()]
    return [
        {
            "gold": r["gold"],
            "completion": r["prediction"],
            "correct": r["expected"],
            "wrap_gold": False,
            "category": r["source"].split("::")[-1].removeprefix("test_"),
        }
        for r in rows
    ]


def plain_math_verify(gold: str, completion: str, wrap_gold: bool = True) -> bool:
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    gold_text = gold if "$" in gold or not wrap_gold else f"${gold}$"
    return bool(
        verify(
            parse(gold_text, parsing_timeout=None),
            parse(completion, parsing_timeout=None),
            timeout_seconds=None,
        )
    )


def plain_verdicts(cases: list[dict], pool: WorkerPool) -> list[bool]:
    args = [(c["gold"], c["completion"], c.get("wrap_gold", True)) for c in cases]
    outcomes = pool.map(plain_math_verify, args, timeout=10)
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
        "right": right,
        "false_positives": fp,
        "false_negatives": fn,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "accuracy": right / len(cases),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--by-category", action="store_true", help="accuracy per category too")
    args = parser.parse_args()
    pool = WorkerPool(2, name="math", preload=(MATH_WARMUP,))
    try:
        for title, cases in [
            ("math-verify's regression cases", load_peer_cases()),
            ("hand-written set", load_cases()),
        ]:
            results = {"math-verify": plain_verdicts(cases, pool), "referee": referee_verdicts(cases, pool)}
            print(f"\n{title}: {len(cases)} cases ({sum(c['correct'] for c in cases)} correct answers)")
            header = f"{'grader':<12} {'right':>7} {'FP':>4} {'FN':>4}"
            print(f"{header} {'precision':>9} {'recall':>7} {'accuracy':>8}")
            for name, verdicts in results.items():
                s = summary(cases, verdicts)
                counts = (
                    f"{s['right']:>3}/{len(cases):<3} {s['false_positives']:>4} {s['false_negatives']:>4}"
                )
                print(f"{name:<12} {counts} {s['precision']:>9.3f} {s['recall']:>7.3f} {s['accuracy']:>8.3f}")
            if args.by_category:
                by_category: dict[str, list[int]] = defaultdict(list)
                for index, case in enumerate(cases):
                    by_category[case["category"]].append(index)
                print(f"{'category':<34} {'cases':>5} {'math-verify':>11} {'referee':>8}")
                for category, indices in by_category.items():
                    row = [
                        sum(results[n][i] == cases[i]["correct"] for i in indices) / len(indices)
                        for n in results
                    ]
                    print(f"{category:<34} {len(indices):>5} {row[0]:>11.2f} {row[1]:>8.2f}")
    finally:
        pool.close()


if __name__ == "__main__":
    main()
