"""`referee score FILE.jsonl`: score a file of items against a running service."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from clients.client import RefereeClient


def read_items(path: Path) -> Iterator[dict[str, Any]]:
    with path.open() as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number}: not JSON: {exc}") from None


def score_file(
    path: Path,
    output: Path,
    client: RefereeClient,
    *,
    rewards: dict[str, float] | None = None,
    profile: str | None = None,
    params: dict[str, Any] | None = None,
    batch_size: int = 256,
    console: Console | None = None,
    turns: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Score `path` in batches with a progress bar, write one result per line to `output` (input order),
    print a summary table and return the summary."""
    items = list(read_items(path))
    totals: dict[str, list[float]] = defaultdict(list)
    nulls: Counter[str] = Counter()
    with output.open("w") as out, tqdm(total=len(items), unit="item", desc="scoring") as progress:
        for start in range(0, len(items), batch_size):
            batch = items[start : start + batch_size]
            response = client.score(batch, rewards=rewards, profile=profile, params=params, turns=turns)
            for result in response.results:
                out.write(result.model_dump_json(exclude={"turns"} if result.turns is None else None) + "\n")
                totals["reward"].append(result.reward)
                for name, value in result.scores.items():
                    if value is None:
                        nulls[f"{name}: {result.errors.get(name, '?')}"] += 1
                    else:
                        totals[name].append(value)
            progress.update(len(batch))
    means = {name: sum(v) / len(v) for name, v in totals.items() if v}
    summary: dict[str, Any] = {"items": len(items), "mean": means, "nulls": dict(nulls)}
    table = Table(title=f"{len(items)} items from {path.name}")
    table.add_column("component")
    table.add_column("mean", justify="right")
    table.add_column("scored", justify="right")
    for name, values in totals.items():
        table.add_row(name, f"{means.get(name, float('nan')):.4f}", str(len(values)))
    for reason, count in nulls.most_common():
        table.add_row(f"null ({reason[:60]})", "", str(count))
    (console or Console()).print(table)
    return summary
