"""The `code` reward on test data as the datasets ship it, served, against the plain `tests` list.

    python -m bench.code_datasets [--submissions 512] [--tests 50] [--repeats 3]

1. `POST /v1/rewards` on a `referee serve` (default concurrency: the cores): `--submissions` Python
   submissions x `--tests` tests each, in TACO's shape (`input_output`, a JSON string) as stdin/stdout
   tests and as call-based ones (`fn_name`), against the same tests as a `tests` list of stdin/stdout
   pairs (the path every earlier Referee had). The submissions: correct, wrong, crashing, slow (50 ms
   on a third of the tests) and partially correct, in turn. The cases are small sums, so the figures
   are the judge's own overhead, not the programs' run time.
2. One looping submission (`while True: pass`) with `--tests` tests of 1 s each, alone in a request:
   the wall time it holds the sandbox with the defaults (`max_timeouts=3`), with `all_or_nothing`
   (early stop on the first failure), and with every test run (`max_timeouts` at the number of tests).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from typing import Any

import httpx

from tests.server_utils import server_process

STDIO = {
    "correct": "a, b = map(int, input().split())\nprint(a + b)",
    "wrong": "a, b = map(int, input().split())\nprint(a - b)",
    "crash": "a, b = map(int, input().split())\nprint(a // (b - b))",
    "slow": "import time\na, b = map(int, input().split())\n"
    "time.sleep(0.05 if a % 3 == 0 else 0)\nprint(a + b)",
    "partial": "a, b = map(int, input().split())\nprint(a + b if a < 50 else 0)",
}
CALL = {
    "correct": "class Solution:\n    def add(self, a, b):\n        return a + b",
    "wrong": "def add(a, b):\n    return a - b",
    "crash": "def add(a, b):\n    return a // (b - b)",
    "slow": "import time\ndef add(a, b):\n    time.sleep(0.05 if a % 3 == 0 else 0)\n    return a + b",
    "partial": "def add(a, b):\n    return a + b if a < 50 else 0",
}


def batches(submissions: int, tests: int) -> dict[str, list[dict[str, Any]]]:
    """The same problem and submissions in each shape."""
    rng = random.Random(13)
    cases = [(rng.randint(1, 99), rng.randint(1, 99)) for _ in range(tests)]
    stdio = {"inputs": [f"{a} {b}\n" for a, b in cases], "outputs": [f"{a + b}\n" for a, b in cases]}
    call = {"fn_name": "add", "inputs": [[a, b] for a, b in cases], "outputs": [[a + b] for a, b in cases]}
    table = [{"input": i, "output": o} for i, o in zip(stdio["inputs"], stdio["outputs"], strict=True)]
    kinds = [list(STDIO)[i % len(STDIO)] for i in range(submissions)]

    def fenced(code: str) -> str:
        return f"```python\n{code}\n```"

    return {
        "tests list (stdin/stdout pairs): baseline": [
            {"completion": fenced(STDIO[kind]), "tests": table} for kind in kinds
        ],
        "TACO input_output, stdin/stdout": [
            {"completion": fenced(STDIO[kind]), "input_output": json.dumps(stdio)} for kind in kinds
        ],
        "TACO input_output, call-based (fn_name)": [
            {"completion": fenced(CALL[kind]), "input_output": json.dumps(call)} for kind in kinds
        ],
    }


def score(
    http: httpx.Client, items: list[dict[str, Any]], params: dict[str, Any]
) -> tuple[float, list[tuple[float | None, str | None]]]:
    started = time.perf_counter()
    response = http.post(
        "/v1/rewards", json={"rewards": {"code": 1.0}, "params": {"code": params}, "items": items}
    )
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    results = response.json()["results"]
    return elapsed, [(result["scores"]["code"], result["errors"].get("code")) for result in results]


def throughput_section(http: httpx.Client, submissions: int, tests: int, repeats: int) -> None:
    print(
        f"1. POST /v1/rewards, {submissions} Python submissions x {tests} tests, {os.cpu_count()} slots:"
        " s per batch (median), speed against the baseline"
    )
    timings, values = {}, {}
    for name, items in batches(submissions, tests).items():
        score(http, items[:8], {})  # warm the slots up
        runs = [score(http, items, {}) for _ in range(repeats)]
        timings[name] = statistics.median(elapsed for elapsed, _ in runs)
        values[name] = [value for value, _ in runs[0][1]]
    baseline = next(iter(timings.values()))
    for name, seconds in timings.items():
        print(f"  {name:<46} {seconds:>7.2f} s  {baseline / seconds:>6.2f}x")
    reference = next(iter(values.values()))
    same = all(found == reference for found in values.values())
    print(f"  the same score for every submission in every shape: {same}")


def looping_section(http: httpx.Client, tests: int) -> None:
    print(
        f"\n2. One looping submission, {tests} tests with a 1 s limit each, alone: wall time it holds slots"
    )
    data = json.dumps({"inputs": ["1 2\n"] * tests, "outputs": ["3\n"] * tests})
    item = [{"completion": "```python\nwhile True:\n    pass\n```", "input_output": data}]
    options = {
        f"every test run (max_timeouts={tests}): baseline": {"max_timeouts": tests},
        "the defaults (max_timeouts=3)": {},
        "all_or_nothing (early stop on the first failure)": {"all_or_nothing": True},
    }
    baseline = None
    for name, params in options.items():
        elapsed, scores = score(http, item, {"time_limit_s": 1.0, **params})
        baseline = baseline or elapsed
        print(f"  {name:<50} {elapsed:>7.2f} s  {baseline / elapsed:>6.1f}x  ({str(scores[0][1])[:60]})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=512)
    parser.add_argument("--tests", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with server_process() as (url, _), httpx.Client(base_url=url, timeout=3600) as http:
        throughput_section(http, args.submissions, args.tests, args.repeats)
        looping_section(http, args.tests)


if __name__ == "__main__":
    main()
