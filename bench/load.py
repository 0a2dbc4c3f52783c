"""Load test: concurrent trainers sending GRPO batches of mixed math/format/code items.

    python -m bench.load [--clients 8] [--duration 120] [--prompts 64] [--samples 8] [--url URL] [--ray]

Without --url it starts `referee serve` on a free localhost port (with --ray: on a local Ray
cluster, two API replicas of half the cores each). Reports items/s, p50/p99 request
latency, errors (must be 0) and the server's RSS at the start and the end (must not keep growing).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import subprocess
import threading
import time

import httpx

from tests.server_utils import descendants, server_process

CODE_TESTS = [{"input": "2 3\n", "output": "5\n"}, {"input": "10 -4\n", "output": "6\n"}]
CODE_ANSWERS = [
    "```python\na, b = map(int, input().split())\nprint(a + b)\n```",
    "```python\na, b = map(int, input().split())\nprint(a - b)\n```",
    "I would add them.",
]


def grpo_batch(rng: random.Random, prompts: int, samples: int) -> list[tuple[dict, list[dict]]]:
    """One GRPO step as a trainer sends it: one request per task type (7 in 8 groups math, the rest
    code), completions varying like a policy's."""
    math_items, code_items = [], []
    for p in range(prompts):
        a, b = rng.randint(1, 99), rng.randint(1, 99)
        for _ in range(samples):
            if p % 8 == 7:
                code_items.append(
                    {
                        "group": f"c{p}",
                        "prompt": "Add two integers from stdin.",
                        "tests": CODE_TESTS,
                        "completion": f"<think>read, add</think>{rng.choice(CODE_ANSWERS)}",
                    }
                )
            else:
                guess = a * b + rng.choice([0, 0, 1, -1])
                math_items.append(
                    {
                        "group": f"m{p}",
                        "prompt": f"What is {a} times {b}?",
                        "answer": str(a * b),
                        "completion": f"<think>{a} x {b} = {guess}</think> The answer is "
                        f"$\\boxed{{{guess}}}$.",
                    }
                )
    return [({"math": 1.0, "format": 0.1}, math_items), ({"code": 1.0, "format": 0.1}, code_items)]


def rss_mb(pid: int) -> float:
    """Resident memory of the server and every process under it (math workers, Ray replicas, ...)."""
    pids = ",".join(str(p) for p in [pid, *descendants(pid)])
    rss = subprocess.run(["ps", "-o", "rss=", "-p", pids], capture_output=True, text=True).stdout.split()
    return sum(int(kb) for kb in rss) / 1024


def run_load(url: str, clients: int, duration: float, prompts: int, samples: int) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    items_done = 0
    lock = threading.Lock()
    deadline = time.monotonic() + duration

    def client(index: int) -> None:
        nonlocal items_done
        rng = random.Random(index)
        with httpx.Client(base_url=url, timeout=300) as http:
            while time.monotonic() < deadline:
                for rewards, items in grpo_batch(rng, prompts, samples):
                    started = time.monotonic()
                    try:
                        response = http.post("/v1/rewards", json={"rewards": rewards, "items": items})
                        ok = response.status_code == 200 and len(response.json()["results"]) == len(items)
                        problem = None if ok else f"{response.status_code}: {response.text[:200]}"
                    except httpx.HTTPError as exc:
                        problem = f"{type(exc).__name__}: {exc}"
                    with lock:
                        latencies.append(time.monotonic() - started)
                        if problem:
                            errors.append(problem)
                        else:
                            items_done += len(items)

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "items": items_done,
        "seconds": elapsed,
        "items_per_s": items_done / elapsed,
        "p50_s": statistics.median(ordered) if ordered else 0.0,
        "p99_s": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else 0.0,
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=120, help="seconds of load (at most 120 by design)")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--url", default=None)
    parser.add_argument("--ray", action="store_true", help="serve with `referee serve --ray`, 2 replicas")
    args = parser.parse_args()
    duration = min(args.duration, 120)

    with contextlib.ExitStack() as stack:
        url, server = args.url, None
        if url is None:
            ray = (
                ["--ray", "--replicas", "2", "--replica-cpus", str((os.cpu_count() or 2) / 2)]
                if args.ray
                else []
            )
            url, server = stack.enter_context(server_process(*ray))
        for rewards, items in grpo_batch(random.Random(99), 8, 2):  # warm-up
            httpx.post(f"{url}/v1/rewards", json={"rewards": rewards, "items": items}, timeout=300)
        rss_start = rss_mb(server.pid) if server else float("nan")
        result = run_load(url, args.clients, duration, args.prompts, args.samples)
        rss_end = rss_mb(server.pid) if server else float("nan")
    print(
        f"{args.clients} clients x batches of {args.prompts}x{args.samples} items "
        f"for {result['seconds']:.0f} s"
    )
    print(f"requests {result['requests']}, items {result['items']}, {result['items_per_s']:.0f} items/s")
    print(f"latency p50 {result['p50_s']:.2f} s, p99 {result['p99_s']:.2f} s")
    print(f"errors {len(result['errors'])}" + (f": {result['errors'][:3]}" if result["errors"] else ""))
    print(f"server RSS (with workers) start {rss_start:.0f} MB, end {rss_end:.0f} MB")


if __name__ == "__main__":
    main()
