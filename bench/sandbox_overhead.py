"""Sandbox overhead and throughput: the warm paths against the cold ones, measured in one run.

    python -m bench.sandbox_overhead [--runs 200] [--submissions 512] [--tests 10] [--no-docker]

1. Per run, one slot, `print(1)` in Python (all overhead): a bare subprocess (no isolation), a cold
   local run (one bwrap per run) and a warm one (forked from the slot's runner); `docker exec` per
   run and the long-lived runner in the container.
2. A submission with `--tests` stdin/stdout tests: one sandbox per test vs one session.
3. `POST /v1/execute` with 200 short programs on a `referee serve` (default concurrency: the cores),
   cold and warm.
4. The `code` reward on `--submissions` Python submissions x `--tests` tests each (correct, wrong,
   crashing and slow ones), cold and warm: the time, and whether every score and error is the same.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import time
from collections.abc import Callable

import httpx

from sandboxes import RunRequest, SandboxUnavailable, get_sandbox
from service.items import Item
from service.rewards.base import RewardContext
from service.rewards.code import CodeParams, code_reward
from service.runtime.resources import Resources
from service.runtime.sandbox_pool import SandboxPool
from tests.server_utils import server_process

PRINT_ONE = RunRequest(source="print(1)")
SOLUTIONS = {
    "correct": "a, b = map(int, input().split())\nprint(a + b)",
    "wrong": "a, b = map(int, input().split())\nprint(a - b)",
    "crash": "a, b = map(int, input().split())\nprint(a // (b - b))",
    "slow": "import time\na, b = map(int, input().split())\ntime.sleep(0.05 if a % 3 else 0)\nprint(a + b)",
    "partial": "a, b = map(int, input().split())\nprint(a + b if a < 50 else 0)",
}


def per_run(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm up (start the runner, the container)
    started = time.perf_counter()
    for _ in range(runs):
        fn()
    return (time.perf_counter() - started) / runs


def row(name: str, seconds: float, baseline: float, unit: str = "ms") -> None:
    print(f"  {name:<44} {seconds * 1000:>9.1f} {unit}   {baseline / seconds:>6.1f}x")


def per_run_section(runs: int, docker: bool) -> None:
    print(f"1. One run of print(1), one slot, mean of {runs}:  ms per run, speed-up over the baseline")
    bare = per_run(
        lambda: subprocess.run(["/usr/bin/python3", "-I", "-c", "print(1)"], capture_output=True), runs
    )
    cold, warm = get_sandbox("local", concurrency=1, warm=False), get_sandbox("local", concurrency=1)
    cold_s, warm_s = per_run(lambda: cold.run(PRINT_ONE), runs), per_run(lambda: warm.run(PRINT_ONE), runs)
    print(f"  {'bare subprocess (no isolation)':<44} {bare * 1000:>9.1f} ms")
    row("local, cold (one bwrap per run): baseline", cold_s, cold_s)
    row("local, warm (forked from the slot's runner)", warm_s, cold_s)
    for sandbox in (cold, warm):
        sandbox.close()
    if not docker:
        return
    try:
        exec_backend, runner_backend = (
            get_sandbox("docker", concurrency=1, runner=False),
            get_sandbox("docker", concurrency=1),
        )
    except SandboxUnavailable as exc:
        print(f"  docker skipped: {exc}")
        return
    exec_s = per_run(lambda: exec_backend.run(PRINT_ONE), max(20, runs // 10))
    runner_s = per_run(lambda: runner_backend.run(PRINT_ONE), runs)
    row("docker, `docker exec` per run: baseline", exec_s, exec_s)
    row("docker, the container's long-lived runner", runner_s, exec_s)
    exec_backend.close()
    runner_backend.close()


def session_section(tests: int, repeats: int = 20) -> None:
    print(f"\n2. A Python submission with {tests} stdin/stdout tests, one slot:  ms per submission")
    request = RunRequest(source=SOLUTIONS["correct"])
    stdins = [f"{i} {i + 1}\n" for i in range(tests)]
    timings = {}
    for name, sandbox in (
        ("one sandbox per test (cold)", get_sandbox("local", concurrency=1, warm=False)),
        ("one session (warm)", get_sandbox("local", concurrency=1)),
    ):
        timings[name] = per_run(lambda sandbox=sandbox: sandbox.run_tests(request, stdins), repeats)
        sandbox.close()
    baseline = timings["one sandbox per test (cold)"]
    for name, seconds in timings.items():
        row(name, seconds, baseline)


def execute_section(programs: int = 200, repeats: int = 5) -> None:
    print(f"\n3. POST /v1/execute, {programs} short Python programs per request (default concurrency)")
    rates = {}
    for warm in (False, True):
        with server_process(env={"REFEREE_SANDBOX_WARM": str(warm).lower()}) as (url, _):
            batch = {"runs": [{"source": f"print({i})"} for i in range(programs)]}
            httpx.post(f"{url}/v1/execute", json=batch, timeout=600)  # start the sandboxes
            measured = []
            for _ in range(repeats):
                started = time.perf_counter()
                results = httpx.post(f"{url}/v1/execute", json=batch, timeout=600).json()["results"]
                measured.append(programs / (time.perf_counter() - started))
                assert [r["stdout"] for r in results] == [f"{i}\n" for i in range(programs)]
            rates[warm] = statistics.median(measured)
    for warm, rate in rates.items():
        label = "warm sandboxes" if warm else "a fresh sandbox per run: baseline"
        print(f"  {label:<44} {rate:>9.0f} runs/s {rate / rates[False]:>6.1f}x")


def code_items(submissions: int, tests: int) -> list[Item]:
    rng = random.Random(13)
    cases = [(rng.randint(1, 99), rng.randint(1, 99)) for _ in range(tests)]
    table = [{"input": f"{a} {b}\n", "output": f"{a + b}\n"} for a, b in cases]
    kinds = list(SOLUTIONS)
    return [
        Item(completion=f"```python\n{SOLUTIONS[kinds[i % len(kinds)]]}\n```", tests=table)
        for i in range(submissions)
    ]


def code_section(submissions: int, tests: int) -> None:
    slots = os.cpu_count() or 1
    print(
        f"\n4. The `code` reward, {submissions} Python submissions x {tests} stdin/stdout tests,"
        f" {slots} slots"
    )
    items = code_items(submissions, tests)
    outcomes, timings = {}, {}
    for warm in (False, True):
        pool = SandboxPool("local", slots, {"local": {"warm": warm}})
        ctx = RewardContext(resources=Resources(sandboxes=pool))
        code_reward(items[:4], CodeParams(), ctx)
        started = time.perf_counter()
        scores = code_reward(items, CodeParams(), ctx)
        timings[warm] = time.perf_counter() - started
        outcomes[warm] = [(s.value, (s.error.kind, s.error.detail) if s.error else None) for s in scores]
        pool.close()
    for warm in (False, True):
        label = "one session per submission (warm)" if warm else "one sandbox per test: baseline"
        print(f"  {label:<44} {timings[warm]:>9.1f} s    {timings[False] / timings[warm]:>6.1f}x")
    same = outcomes[False] == outcomes[True]
    print(f"  same scores and errors for all {submissions} submissions: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--submissions", type=int, default=512)
    parser.add_argument("--tests", type=int, default=10)
    parser.add_argument("--no-docker", action="store_true")
    args = parser.parse_args()
    per_run_section(args.runs, not args.no_docker)
    session_section(args.tests)
    execute_section()
    code_section(args.submissions, args.tests)


if __name__ == "__main__":
    main()
