"""Turn a trainer's batch (prompts, completions, dataset columns) into Referee items."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Trainer keyword arguments that are not dataset columns.
NOT_COLUMNS = {"trainer_state", "completion_ids", "prompts", "completions", "log_extra", "log_metric"}


def build_items(
    prompts: Sequence[Any],
    completions: Sequence[Any],
    columns: Mapping[str, Sequence[Any]],
    column_map: Mapping[str, str] | None = None,
    completion_ids: Sequence[Sequence[int]] | None = None,
) -> list[dict[str, Any]]:
    """One item per completion. Columns are renamed by `column_map` (e.g. `{"solution": "answer"}`);
    the group is the prompt (TRL puts a prompt's generations next to each other)."""
    column_map = column_map or {}
    items = []
    for index, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
        item: dict[str, Any] = {"id": str(index), "prompt": prompt, "completion": completion}
        for name, values in columns.items():
            if name in NOT_COLUMNS or not isinstance(values, Sequence) or isinstance(values, str):
                continue
            if len(values) == len(completions):
                item[column_map.get(name, name)] = values[index]
        if completion_ids is not None:
            item["completion_tokens"] = len(completion_ids[index])
        items.append(item)
    return items
