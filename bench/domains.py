"""`ifeval` and `reasoning_gym` on a 512-item batch: items/s through `POST /v1/rewards` vs the same
checks called directly in one process, in the same run.

    python -m bench.domains [--items 512] [--repeats 3]

The direct baseline is the lower bound of the work (open-instruct's and reasoning-gym's own loops do
the same: one check after another in the trainer's process). The service adds HTTP and JSON and, for
reasoning-gym, hands each item to the killable worker processes, which also run them side by side.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx

from service.grading.instructions.ifeval import check, parse_ground_truth
from service.grading.procedural import dataset_names, score_entry
from tests.server_utils import server_process

IFEVAL_SETS: list[tuple[list[str], list[dict[str, Any] | None]]] = [
    (
        ["punctuation:no_comma", "length_constraints:number_words"],
        [None, {"num_words": 120, "relation": "less than"}],
    ),
    (["detectable_format:title", "change_case:english_lowercase"], [None, None]),
    (
        ["detectable_format:number_bullet_lists", "startend:end_checker"],
        [{"num_bullets": 3}, {"end_phrase": "Bye."}],
    ),
    (
        ["length_constraints:number_sentences", "keywords:existence", "language:response_language"],
        [{"num_sentences": 6, "relation": "at least"}, {"keywords": ["river"]}, {"language": "en"}],
    ),
]
WORDS = "the river runs past the old mill and the children watch the boats go by"


def ifeval_items(count: int, rng: random.Random) -> list[dict[str, Any]]:
    words = [
        "the",
        "river",
        "runs",
        "past",
        "the",
        "old",
        "mill",
        "and",
        "the",
        "children",
        "watch",
        "the",
        "boats",
        "go",
        "by",
    ]
    items = []
    for index in range(count):
        ids, kwargs = IFEVAL_SETS[index % len(IFEVAL_SETS)]
        body = ". ".join(" ".join(rng.choices(words, k=rng.randint(6, 14))) for _ in range(rng.randint(3, 9)))
        completion = f"<think>plan the answer</think><<a title>>\n* one\n* two\n* three\n{body}. Bye."
        items.append(
            {"completion": completion, "ground_truth": str([{"instruction_id": ids, "kwargs": kwargs}])}
        )
    return items


def reasoning_gym_items(count: int) -> list[dict[str, Any]]:
    import reasoning_gym

    names = [n for n in dataset_names() if n != "composite"]
    items = []
    for index in range(count):
        name = names[index % len(names)]
        row = reasoning_gym.create_dataset(name, size=1, seed=index)[0]
        row = json.loads(json.dumps(row, default=str))
        answer = row["answer"] if row["answer"] is not None else "unknown"
        items.append(
            {"completion": f"<answer>{answer}</answer>", "answer": row["answer"], "metadata": row["metadata"]}
        )
    return items


def ifeval_direct(items: list[dict[str, Any]]) -> None:
    for item in items:
        check(item["completion"].split("</think>")[-1].strip(), parse_ground_truth(item["ground_truth"]))


def reasoning_gym_direct(items: list[dict[str, Any]]) -> None:
    for item in items:
        entry = {"question": "", "answer": item["answer"], "metadata": item["metadata"]}
        score_entry(item["metadata"]["source_dataset"], "{}", item["completion"], "answer_tag", entry, True)


def median_seconds(step: Callable[[], Any], repeats: int) -> float:
    step()  # warm-up: imports, worker start-up, dataset instances
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    batches = {
        "ifeval": (ifeval_items(args.items, random.Random(0)), ifeval_direct),
        "reasoning_gym": (reasoning_gym_items(args.items), reasoning_gym_direct),
    }
    with server_process() as (url, _), httpx.Client(timeout=600) as client:
        print(f"{'reward':<15} {'direct items/s':>15} {'Referee items/s':>16} {'ratio':>7}")
        for reward, (items, direct) in batches.items():
            body = {"rewards": {reward: 1.0}, "items": items}

            def post(body: dict[str, Any] = body) -> None:
                response = client.post(f"{url}/v1/rewards", json=body)
                response.raise_for_status()

            direct_s = median_seconds(lambda items=items, direct=direct: direct(items), args.repeats)
            served_s = median_seconds(post, args.repeats)
            print(
                f"{reward:<15} {len(items) / direct_s:>15.0f} {len(items) / served_s:>16.0f} "
                f"{direct_s / served_s:>6.2f}x"
            )


if __name__ == "__main__":
    main()
