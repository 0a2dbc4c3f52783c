"""`referee select`: the items file, joined with `referee score`'s output, to a TRL-ready JSONL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from service.selection.recipes import ScoredItem


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open() as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON: {exc.msg}") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{number}: not a JSON object")
            yield row


def joined(items: list[dict[str, Any]], results: list[dict[str, Any]] | None) -> list[ScoredItem]:
    """Items with their scores: from `results` by `id` when every item and result has a distinct one
    (`referee score` echoes ids; without one it numbers results by position), else line by line."""
    if results is not None:
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
