"""Whether an assistant turn is laid out as asked: tagged blocks in order (OpenManus-RL's and
verl-agent's `<think>…</think><action>…</action>`), or a think block then one tool call or one answer.

The scans are linear on purpose: lazy regular-expression groups backtrack quadratically (or worse) on
a degenerate completion.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from service.grading.trajectory.turns import CallFormat, Turn, calls_in, hermes_blocks

TAG_NAME = r"^[A-Za-z_][\w\-]*$"
Layout = Literal["think_action", "tool_or_answer"] | list[str]


def tagged_blocks(text: str, tags: Sequence[str]) -> list[str] | None:
    """The contents of `<t1>…</t1><t2>…</t2>…` in this order with only whitespace around and between
    them, each non-empty and free of the tags; None when the text is not exactly that."""
    contents, position = [], 0
    for tag in tags:
        opening, closing = f"<{tag}>", f"</{tag}>"
        while position < len(text) and text[position].isspace():
            position += 1
        if not text.startswith(opening, position):
            return None
        end = text.find(closing, position + len(opening))
        if end < 0:
            return None
        contents.append(text[position + len(opening) : end].strip())
        position = end + len(closing)
    if text[position:].strip() or not all(contents):
        return None
    if any(f"<{tag}>" in content or f"</{tag}>" in content for tag in tags for content in contents):
        return None  # a nested or repeated tag: not one block per tag
    return contents


def last_tagged(text: str, tag: str) -> str | None:
    """The content of the last complete `<tag>…</tag>` block."""
    end = text.rfind(f"</{tag}>")
    start = text.rfind(f"<{tag}>", 0, end) if end >= 0 else -1
    return text[start + len(tag) + 2 : end] if start >= 0 else None


def normalise_action(action: str, case_sensitive: bool) -> str:
    action = " ".join(action.split())
    return action if case_sensitive else action.lower()


def admissible_actions(admissible: Any, turn: int) -> list[str] | None:
    """The admissible actions for this turn: one list for every turn, or one list per turn."""
    if not isinstance(admissible, list) or not admissible:
        return None
    if all(isinstance(entry, list) for entry in admissible):
        return [str(a) for a in admissible[turn]] if turn < len(admissible) else None
    return [str(a) for a in admissible]


def tool_or_answer(turn: Turn, number: int, call_format: CallFormat) -> bool:
    """A non-empty think block, then exactly one tool call (structured or `<tool_call>`) or one
    `<answer>`, and nothing else."""
    structured = calls_in(turn.message, number, "openai") if call_format != "hermes" else []
    think = re.match(r"\s*<think>(.*?)</think>(.*)", turn.text, re.S)
    if think is None or not think.group(1).strip():
        return False
    rest = think.group(2)
    blocks = hermes_blocks(rest) if call_format != "openai" else []
    if tagged_blocks(rest, ["answer"]) is not None:
        return not structured and not blocks
    if len(blocks) == 1:
        return not structured and re.fullmatch(r"\s*<tool_call>.*</tool_call>\s*", rest, re.S) is not None
    return len(structured) == 1 and not rest.strip()


def follows_layout(
    turn: Turn,
    number: int,
    layout: Layout,
    *,
    call_format: CallFormat = "auto",
    forbid_regex: str | None = None,
    admissible: list[str] | None = None,
    case_sensitive_actions: bool = False,
) -> bool:
    """Whether the turn (the `number`-th assistant turn, 0-based) follows the layout; with
    `admissible`, its `<action>` must also be one of those actions."""
    if forbid_regex is not None and re.search(forbid_regex, turn.text):
        return False
    if layout == "tool_or_answer":
        return tool_or_answer(turn, number, call_format)
    tags = ["think", "action"] if layout == "think_action" else list(layout)
    contents = tagged_blocks(turn.text, tags)
    if contents is None:
        return False
    if admissible is not None and "action" in tags:
        action = normalise_action(contents[tags.index("action")], case_sensitive_actions)
        return action in {normalise_action(a, case_sensitive_actions) for a in admissible}
    return True
