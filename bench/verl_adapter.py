"""Scoring 512 rollouts through verl's reward loop vs one direct request, in the same run.

    python -m bench.verl_adapter [--prompts 64] [--samples 8]

verl 0.9.1's `RewardLoopWorker` (one worker, the `naive` manager, what `main_ppo` runs) calls the
adapter once per rollout; the adapter coalesces those calls into batched requests. The baseline is
one `POST /v1/rewards` with all rollouts. The batch is `bench.math_throughput`'s realistic one (long
chains of thought, golds of every kind); each path: the median of several warm steps. Needs verl
(`make install-test` installs it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Callable

import httpx

from bench.math_throughput import build_batch
from clients.grpo.tiny import build_tokenizer
from tests.peers.verl_utils import make_dataproto, readme_overrides, verl_config
from tests.server_utils import server_process


async def noop_score(**kwargs: object) -> dict[str, float]:
    """A reward that costs nothing: what verl's reward loop spends around any reward function."""
    return {"score": 0.0}


def median_seconds(step: Callable[[], list[float]], repeats: int) -> tuple[float, list[float]]:
    """Median time of `repeats` steps after one warm-up step (a training run pays start-up once)."""
    scores = step()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        scores = step()
        times.append(time.perf_counter() - started)
    return statistics.median(times), scores


def reward_loop_step(config: object, data: object) -> Callable[[], list[float]]:
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    asyncio.set_event_loop(asyncio.new_event_loop())
    worker = RewardLoopWorker(config)
    return lambda: [
        o["reward_score"] for o in worker.loop.run_until_complete(worker.compute_score_batch(data))
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per path (the median is shown)")
    args = parser.parse_args()
    items = build_batch(args.prompts, args.samples, adversarial=0)
    tokenizer_dir = tempfile.mkdtemp()
    build_tokenizer().save_pretrained(tokenizer_dir)
    data = make_dataproto(
        tokenizer_dir,
        [f"Problem {i['group']}: give the answer in a box." for i in items],
        [i["completion"] for i in items],
        [i["answer"] for i in items],
        group_size=args.samples,
    )
    with server_process() as (url, _):
        os.environ.update(REFEREE_URL=url, REFEREE_REWARDS="math=1,format=0.1")
        body = {"rewards": {"math": 1.0, "format": 0.1}, "items": items}
        with httpx.Client(timeout=300) as http:

            def direct() -> list[float]:
                return [r["reward"] for r in http.post(f"{url}/v1/rewards", json=body).json()["results"]]

            seconds, expected = median_seconds(direct, args.repeats)
            rows = [("one direct request", seconds, expected)]
            for name, path in [
                ("compute_score_async", "pkg://clients.verl"),
                ("compute_score", "pkg://clients.verl"),
                ("noop_score", "pkg://bench.verl_adapter"),
            ]:
                step = reward_loop_step(verl_config(tokenizer_dir, *readme_overrides(name, path)), data)
                rows.append((f"verl reward loop, {name}", *median_seconds(step, args.repeats)))
    baseline = rows[0][1]
    print(f"{len(items)} rollouts ({args.prompts} prompts x {args.samples}), math + format")
    print(f"{'path':<40} {'seconds':>8} {'vs direct':>10} {'same rewards':>13}")
    for name, seconds, scores in rows:
        same = "-" if name.endswith("noop_score") else str(scores == expected)
        print(f"{name:<40} {seconds:>8.3f} {seconds / baseline:>9.2f}x {same:>13}")


if __name__ == "__main__":
    main()
