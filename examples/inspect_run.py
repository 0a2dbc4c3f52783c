"""What a recorded run was rewarded for, per step: the numbers the reward inspector's page charts.

    referee serve --record &                              # keep every scored batch
    referee train --config examples/quick.toml            # the run is named after output_dir: `quick`
    python examples/inspect_run.py quick                  # then open http://127.0.0.1:8000/ui

It reads the page's own JSON API (`/ui/api/...`), with `REFEREE_API_KEY` as a bearer token when the
server has a key.
"""

from __future__ import annotations

import os
import sys

import httpx


def cell(value: float | None, width: int) -> str:
    return f"{value:{width}.3f}" if value is not None else "-".rjust(width)


def main(run: str) -> int:
    url = os.environ.get("REFEREE_URL", "http://127.0.0.1:8000").rstrip("/")
    key = os.environ.get("REFEREE_API_KEY")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(base_url=f"{url}/ui/api", headers=headers, timeout=30) as inspector:
        if not inspector.get("/session").raise_for_status().json()["recording"]:
            print("the server is not recording: start it with `referee serve --record`", file=sys.stderr)
            return 1
        runs = {entry["run"]: entry for entry in inspector.get("/runs").raise_for_status().json()}
        if run not in runs:
            print(f"no run {run!r}; recorded runs: {', '.join(sorted(runs)) or 'none'}", file=sys.stderr)
            return 1
        series = inspector.get("/series", params={"run": run}).raise_for_status().json()
    names = sorted(series["components"])
    print(f"run {run}: {runs[run]['requests']} requests, {runs[run]['items']} items")
    print("step  reward  " + "  ".join(f"{name:>8}" for name in names))
    for index, step in enumerate(series["steps"]):
        components = "  ".join(cell(series["components"][name][index], 8) for name in names)
        print(f"{step:>4}  {cell(series['reward'][index], 6)}  {components}")
    print(f"the page: {url}/ui")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "quick"))
