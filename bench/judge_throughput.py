"""Judge throughput: the `rubric` reward served, against a judge with a fixed latency per request.

    python -m bench.judge_throughput [--items 128] [--criteria 2] [--latency 0.2] [--clients 8]

The judge is tests/judge_server.py (an OpenAI-compatible server answering every prompt after
`--latency` seconds, like a served model whose batch has room). A `referee serve --judge-url ...` with
`--judge-concurrency` 1, 8 and 32 (the cache off, so every prompt is asked) scores `--items` rubric
items of `--criteria` criteria each, sent as `--clients` concurrent requests: many trainers'
requests share one limit. Printed per concurrency: wall time, judge calls per second, the peak
number of requests the judge saw in flight (it must never pass the limit), the share of the ideal
`concurrency / latency` calls per second reached, and the speed-up over concurrency 1 (measured in
the same run). Then, at concurrency 32: one request with every item, against the concurrent clients.
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

import httpx

from tests.judge_server import MODEL_NAME, JudgeBehaviour, judge_server
from tests.server_utils import server_process


def items(count: int, criteria: int, tag: str) -> list[dict[str, Any]]:
    rubric = [{"criterion": f"mentions 'word{c}'", "weight": 1} for c in range(criteria)]
    return [
        {"prompt": f"question {tag}-{i}", "completion": f"word0 and word{i % criteria}", "rubric": rubric}
        for i in range(count)
    ]


def score_all(url: str, batches: list[list[dict[str, Any]]]) -> float:
    """Send the batches as concurrent requests; the wall time until the last one is scored."""
    failures: list[str] = []

    def send(batch: list[dict[str, Any]]) -> None:
        response = httpx.post(
            f"{url}/v1/rewards", json={"rewards": {"rubric": 1.0}, "items": batch}, timeout=600
        )
        nulls = response.json().get("null_counts", {}) if response.status_code == 200 else {}
        if response.status_code != 200 or nulls:
            failures.append(f"{response.status_code} {nulls or response.text[:200]}")

    threads = [threading.Thread(target=send, args=(batch,)) for batch in batches]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"scoring failed: {failures[:3]}")
    return elapsed


def run(
    url: str, behaviour: JudgeBehaviour, concurrency: int, batches: list[list[dict[str, Any]]]
) -> dict[str, float]:
    env = {"REFEREE_JUDGE_CACHE_SIZE": "0"}
    with server_process(
        "--judge-url", url, "--judge-model", MODEL_NAME, "--judge-concurrency", str(concurrency), env=env
    ) as (
        referee,
        _,
    ):
        score_all(referee, [batches[0][:2]])  # warm: the first request builds the client
        behaviour.requests, behaviour.peak_in_flight = 0, 0
        elapsed = score_all(referee, batches)
    return {"seconds": elapsed, "calls": behaviour.requests, "peak": behaviour.peak_in_flight}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=128)
    parser.add_argument("--criteria", type=int, default=2)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    per_client = max(1, args.items // args.clients)
    with judge_server(JudgeBehaviour(latency_s=args.latency)) as (url, behaviour):
        rows = []
        for concurrency in (1, 8, 32):
            tag = f"c{concurrency}"
            batches = [items(per_client, args.criteria, f"{tag}-{c}") for c in range(args.clients)]
            rows.append(
                (
                    f"{args.clients} concurrent requests, concurrency {concurrency}",
                    concurrency,
                    run(url, behaviour, concurrency, batches),
                )
            )
        single = [items(per_client * args.clients, args.criteria, "single")]
        rows.append(("1 request with every item, concurrency 32", 32, run(url, behaviour, 32, single)))
    baseline = rows[0][2]["calls"] / rows[0][2]["seconds"]
    print(
        f"{per_client * args.clients} rubric items x {args.criteria} criteria, "
        f"judge latency {args.latency:g} s (ideal: concurrency / latency calls/s)\n"
    )
    print("| load | judge calls | seconds | calls/s | peak in flight | of ideal | vs concurrency 1 |")
    print("|---|---|---|---|---|---|---|")
    for name, concurrency, row in rows:
        rate = row["calls"] / row["seconds"]
        ideal = concurrency / args.latency
        print(
            f"| {name} | {row['calls']:.0f} | {row['seconds']:.2f} | {rate:.1f} | {row['peak']:.0f} "
            f"| {rate / ideal:.0%} | {rate / baseline:.1f}x |"
        )
        if row["peak"] > concurrency:
            raise SystemExit(
                f"the judge saw {row['peak']:.0f} requests in flight, over the limit {concurrency}"
            )


if __name__ == "__main__":
    main()
