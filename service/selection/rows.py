"""Selected rollouts as the rows TRL's trainers read: `prompt` / `completion` for `SFTTrainer`,
`prompt` / `chosen` / `rejected` for `DPOTrainer` (and ORPO, KTO-paired).

A chat prompt keeps its messages and the completion becomes an assistant message (TRL's
conversational form, tool-call arguments as objects, the item's `tools` as a `tools` column); a
plain-text prompt gives plain-text rows. With `meta`, rows also carry the ids and scores they came
from (TRL ignores columns it does not know).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from service.items import Text
from service.selection.recipes import ScoredItem, Selection


def as_messages(value: Text) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": "assistant", "content": value}]
    return [trl_message(message.model_dump(exclude_none=True)) for message in value]


def trl_message(message: dict[str, Any]) -> dict[str, Any]:
    """Tool-call arguments as objects, as TRL and chat templates (`arguments | tojson`) expect them;
    vLLM and OpenAI send them as JSON text, which a template would encode a second time."""
    calls = message.get("tool_calls")
    if not calls:
        return message
    decoded = []
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and isinstance(function.get("arguments"), str):
            try:
                arguments = json.loads(function["arguments"])
            except ValueError:
                arguments = None
            if isinstance(arguments, dict):
                call = {**call, "function": {**function, "arguments": arguments}}
        decoded.append(call)
    return {**message, "tool_calls": decoded}


def conversational(item: ScoredItem) -> bool:
    return not isinstance(item.prompt, str | None) or not isinstance(item.completion, str)


def prompt_of(item: ScoredItem, chat: bool) -> Any:
    if not chat:
        return item.prompt or ""
    if isinstance(item.prompt, str) or item.prompt is None:
        return [{"role": "user", "content": item.prompt or ""}]
    return [trl_message(message.model_dump(exclude_none=True)) for message in item.prompt]


def completion_of(item: ScoredItem, chat: bool) -> Any:
    return as_messages(item.completion) if chat else item.completion


def tools_of(item: ScoredItem) -> dict[str, Any]:
    """The item's tool definitions as TRL's `tools` column (handed to the chat template)."""
    return {"tools": item.tools} if item.tools else {}


def meta_of(item: ScoredItem, prefix: str = "") -> dict[str, Any]:
    return {f"{prefix}id": item.id, f"{prefix}scores": item.scores, f"{prefix}reward": item.reward}


def training_rows(
    items: Sequence[ScoredItem], selection: Selection, meta: bool = False
) -> list[dict[str, Any]]:
    """One row per kept item, or per pair. Conversational when any selected item is (TRL wants one
    form per dataset)."""
    used = selection.kept + [i for pair in selection.pairs for i in pair]
    chat = any(conversational(items[i]) for i in used)
    rows: list[dict[str, Any]] = []
    for index in selection.kept:
        item = items[index]
        row = {"prompt": prompt_of(item, chat), "completion": completion_of(item, chat)} | tools_of(item)
        if meta:
            row |= meta_of(item) | {"group": item.group_key}
        rows.append(row)
    for chosen, rejected in selection.pairs:
        row = {
            "prompt": prompt_of(items[chosen], chat),
            "chosen": completion_of(items[chosen], chat),
            "rejected": completion_of(items[rejected], chat),
        } | tools_of(items[chosen])
        if meta:
            row |= meta_of(items[chosen], "chosen_") | meta_of(items[rejected], "rejected_")
        rows.append(row)
    return rows


def summary_of(items: Sequence[ScoredItem], selection: Selection) -> dict[str, Any]:
    """Groups, rows, what was dropped by which rule, and the mean length before and after."""
    lengths = selection.lengths

    def mean(indices: Sequence[int]) -> float | None:
        return sum(lengths[i] for i in indices) / len(indices) if indices else None

    summary: dict[str, Any] = {
        "items": len(items),
        "groups": selection.groups,
        "groups_without_rows": selection.groups_without_rows,
        "rows": len(selection.kept) + len(selection.pairs),
        "dropped": selection.dropped,
        "length_unit": selection.unit,
        "mean_length_before": mean(range(len(items))),
    }
    if selection.pairs:
        summary["mean_length_chosen"] = mean([c for c, _ in selection.pairs])
        summary["mean_length_rejected"] = mean([r for _, r in selection.pairs])
    else:
        summary["mean_length_after"] = mean(selection.kept)
    return summary
