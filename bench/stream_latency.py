"""Streaming against one response: when does a trainer get its rewards?

    python -m bench.stream_latency [--fast 500] [--slow 12] [--sleep 5]

A `referee serve` (default settings: sandbox slots = cores) scores `--fast` quick Python submissions
and `--slow` ones that sleep `--sleep` s before answering (a slow test in a code dataset), shuffled
together, with the `code` reward: once as `POST /v1/rewards` (every result arrives with the last)
and once as `POST /v1/rewards/stream`. Printed: the time to the first result, to the last fast one,
and to the last one, and the ratio of the streamed times to one response's, measured in the same run.
A sleeping submission holds its sandbox slot: with as many slots as cores, the slow ones hold all of
them and the fast ones behind them wait (`--slots 16` shows what more slots change).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any

import httpx

from tests.server_utils import server_process

FAST = "```python\nprint(int(input()) + 1)\n```"


def batch(fast: int, slow: int, sleep: float) -> list[dict[str, Any]]:
    slow_code = f"```python\nimport time\ntime.sleep({sleep})\nprint(int(input()) + 1)\n```"
    items = [{"id": f"fast{i}", "completion": FAST} for i in range(fast)]
    items += [{"id": f"slow{i}", "completion": slow_code} for i in range(slow)]
    random.Random(7).shuffle(items)
    return [{**item, "tests": [{"input": "1", "output": "2"}]} for item in items]


def one_response(url: str, body: dict[str, Any]) -> dict[str, float]:
    started = time.perf_counter()
    response = httpx.post(f"{url}/v1/rewards", json=body, timeout=3600)
    response.raise_for_status()
    seconds = time.perf_counter() - started
    return {"first": seconds, "last fast": seconds, "last": seconds}


def streamed(url: str, body: dict[str, Any], fast: int) -> dict[str, float]:
    started, times, fast_seen = time.perf_counter(), {}, 0
    with httpx.stream("POST", f"{url}/v1/rewards/stream", json=body, timeout=3600) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            data = json.loads(line)
            if "summary" in data:
                break
            now = time.perf_counter() - started
            times.setdefault("first", now)
            if data["id"].startswith("fast"):
                fast_seen += 1
                if fast_seen == fast:
                    times["last fast"] = now
            times["last"] = now
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", type=int, default=500)
    parser.add_argument("--slow", type=int, default=12)
    parser.add_argument("--sleep", type=float, default=5.0)
    parser.add_argument(
        "--slots",
        type=int,
        default=None,
        help="Sandbox slots (REFEREE_SANDBOX_CONCURRENCY); default: the cores.",
    )
    args = parser.parse_args()
    body = {
        "rewards": {"code": 1.0},
        "items": batch(args.fast, args.slow, args.sleep),
        "params": {"code": {"time_limit_s": min(args.sleep + 5, 60)}},  # the slow ones finish, not time out
    }
    env = {"REFEREE_SANDBOX_CONCURRENCY": str(args.slots)} if args.slots else {}
    with server_process(env=env) as (url, _):
        httpx.post(f"{url}/v1/rewards", json={**body, "items": body["items"][:8]}, timeout=600)  # warm
        whole = one_response(url, body)
        stream = streamed(url, body, args.fast)
    slots = args.slots or "the cores'"
    print(
        f"{args.fast} fast + {args.slow} slow ({args.sleep:g} s) Python submissions, "
        f"the code reward, {slots} slots\n"
    )
    print("| result | one response | streamed | streamed / one response |")
    print("|---|---|---|---|")
    for key in ("first", "last fast", "last"):
        print(f"| {key} | {whole[key]:.2f} s | {stream[key]:.2f} s | {stream[key] / whole[key]:.2f} |")


if __name__ == "__main__":
    main()
