"""Per-run overhead of the sandboxes: bare subprocess vs local (bubblewrap) vs docker (warm containers).

    python -m bench.sandbox_overhead [--runs 200] [--burst 4096]

Each run is `print(1)` in Python, so the time is all overhead. The burst sends `--burst` programs at
once to the local backend through its queue (default concurrency: the core count).
"""

from __future__ import annotations

import argparse
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sandboxes import RunRequest, SandboxUnavailable, Status, get_sandbox


def per_run(fn: Callable[[], object], runs: int) -> float:
    started = time.perf_counter()
    for _ in range(runs):
        fn()
    return (time.perf_counter() - started) / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--burst", type=int, default=4096)
    args = parser.parse_args()
    request = RunRequest(source="print(1)")

    bare = per_run(
        lambda: subprocess.run(["/usr/bin/python3", "-I", "-c", "print(1)"], capture_output=True), args.runs
    )
    rows = [("bare subprocess (no isolation)", bare)]
    local = get_sandbox("local")
    rows.append(("local (bubblewrap)", per_run(lambda: local.run(request), args.runs)))
    try:
        docker = get_sandbox("docker")
        docker.run(request)  # start the warm container
        rows.append(("docker (warm container)", per_run(lambda: docker.run(request), args.runs)))
        docker.close()
    except SandboxUnavailable as exc:
        print(f"docker backend skipped: {exc}")

    print(f"{'backend':<32} {'ms per run':>10} {'vs bare':>8}")
    for name, seconds in rows:
        print(f"{name:<32} {seconds * 1000:>10.1f} {seconds / bare:>7.1f}x")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=64) as pool:
        results = list(pool.map(lambda _: local.run(request), range(args.burst)))
    elapsed = time.perf_counter() - started
    failed = sum(r.status != Status.ok for r in results)
    print(
        f"\nburst of {args.burst} programs on local (concurrency {local.slots.size}): {elapsed:.1f} s, "
        f"{args.burst / elapsed:.0f} programs/s, {failed} failed"
    )
    local.close()


if __name__ == "__main__":
    main()
