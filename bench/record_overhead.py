"""What recording for the reward inspector costs: the 8-client load benchmark (`bench.load`) against
`referee serve`, then against `referee serve --record` (SQLite, every item), in one run.

    python -m bench.record_overhead [--clients 8] [--duration 60] [--record URL]
"""

from __future__ import annotations

import argparse
import random
import re
import tempfile
from pathlib import Path

import httpx

from bench.load import grpo_batch, run_load
from tests.server_utils import server_process


def metric(text: str, name: str) -> float:
    found = re.findall(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M)
    return sum(float(value) for value in found)


def measure(env: dict[str, str], clients: int, duration: float) -> tuple[dict, float, float]:
    with server_process(env=env) as (url, _):
        for rewards, items in grpo_batch(random.Random(99), 8, 2):  # warm-up
            httpx.post(f"{url}/v1/rewards", json={"rewards": rewards, "items": items}, timeout=300)
        result = run_load(url, clients, duration, 64, 8)
        metrics = httpx.get(f"{url}/metrics", timeout=30).text
        written = metric(metrics, "referee_records_written_total")
        dropped = metric(metrics, "referee_records_dropped_total")
    return result, written, dropped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--record", default=None, help="database URL [default: a fresh SQLite file]")
    args = parser.parse_args()
    url = args.record or f"sqlite:///{Path(tempfile.mkdtemp()) / 'records.sqlite'}"
    baseline, _, _ = measure({}, args.clients, args.duration)
    recorded, written, dropped = measure({"REFEREE_RECORD": url}, args.clients, args.duration)
    print(f"{args.clients} clients x batches of 64x8 items, {args.duration:.0f} s each")
    print(f"{'':<28} {'items/s':>8} {'p50 s':>6} {'p99 s':>6} {'errors':>6}")
    for name, result in (("no recording (baseline)", baseline), ("recording every item", recorded)):
        print(
            f"{name:<28} {result['items_per_s']:>8.0f} {result['p50_s']:>6.2f} {result['p99_s']:>6.2f} "
            f"{len(result['errors']):>6}"
        )
    cost = 1 - recorded["items_per_s"] / baseline["items_per_s"]
    print(f"cost of recording: {cost:.1%} of items/s; {written:.0f} items written, {dropped:.0f} dropped")


if __name__ == "__main__":
    main()
