"""`referee select`: the items file, joined with `referee score`'s output, to a TRL-ready JSONL.
The files are read with `clients.score_file.read_items`, as `referee score` reads them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from service.selection.recipes import ScoredItem


def objects(rows: list[Any], what: str) -> list[dict[str, Any]]:
    """The rows, each a JSON object, or ValueError naming the first that is not."""
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise ValueError(f"{what} line {number}: not a JSON object")
    return rows


def joined(items: list[Any], results: list[Any] | None) -> list[ScoredItem]:
    """Items with their scores: from `results` by `id` when every item and result has a distinct one
    (`referee score` echoes ids; without one it numbers results by position), else line by line."""
    items = objects(items, "items")
    if results is not None:
        results = objects(results, "scores")
        ids = [item.get("id") for item in items]
        by_id = {str(result.get("id")): result for result in results}
        if all(i is not None for i in ids) and len(set(map(str, ids))) == len(ids):
            missing = [str(i) for i in ids if str(i) not in by_id]
            if missing:
                more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
                raise ValueError(
                    f"no scores for items {', '.join(missing[:5])}{more} (was scoring cut short?)"
                )
            matched = [by_id[str(i)] for i in ids]
        elif len(results) == len(items):
            matched = results
        else:
            raise ValueError(f"{len(items)} items but {len(results)} scored results, and no ids to join on")
        items = [
            {**item, "scores": result.get("scores", {}), "reward": result.get("reward")}
            for item, result in zip(items, matched, strict=True)
        ]
    scored = []
    for number, item in enumerate(items, 1):
        try:
            scored.append(ScoredItem.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ValueError(f"item {number}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    return scored


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
