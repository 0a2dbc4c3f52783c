"""Reasoning-then-answer layout (`<think>…</think>answer`, R1 and R1-Zero templates), read as plain text.

A chat template may already have put the opening reasoning tag into the prompt (`prefilled_think`):
the completion then starts inside the reasoning, and the checks read it as if the tag were there.
"""

from __future__ import annotations

import re


def after_reasoning(text: str, think_tag: str | None) -> str:
    """What follows the last closing reasoning tag (the whole text when there is none)."""
    if think_tag:
        _, closed, after = text.rpartition(f"</{think_tag}>")
        return after if closed else text
    return text


def final_response(text: str, think_tag: str | None) -> str:
    """What a judge should read: the text after the reasoning; nothing when the reasoning was opened
    and never closed (a cut-off generation has no answer, and its thoughts must not earn one)."""
    if think_tag and f"<{think_tag}>" in text and f"</{think_tag}>" not in text:
        return ""
    return after_reasoning(text, think_tag).strip()


def with_prefill(text: str, think_tag: str, prefilled_think: bool) -> str:
    opening = f"<{think_tag}>"
    stripped = text.lstrip()
    if prefilled_think and not stripped.startswith(opening):
        return opening + stripped
    return stripped


def split_reasoning(
    text: str, think_tag: str = "think", answer_tag: str | None = None, prefilled_think: bool = False
) -> tuple[str, str] | None:
    """(reasoning, answer) when the completion is exactly one reasoning block then a non-empty answer
    (with `answer_tag`: exactly one such block), tags neither repeated nor nested; else None."""
    think = re.escape(think_tag)
    text = with_prefill(text, think_tag, prefilled_think).rstrip()
    match = re.fullmatch(rf"<{think}>(.*?)</{think}>(.*)", text, re.S)
    if match is None:
        return None
    reasoning, rest = match.group(1), match.group(2).strip()
    if not reasoning.strip() or re.search(rf"</?{think}>", reasoning + rest):
        return None
    if answer_tag is not None:
        tag = re.escape(answer_tag)
        answer = re.fullmatch(rf"<{tag}>(.*?)</{tag}>", rest, re.S)
        if answer is None or re.search(rf"</?{tag}>", answer.group(1)):
            return None
        rest = answer.group(1).strip()
    return (reasoning.strip(), rest) if rest else None


def tag_credit(text: str, think_tag: str, answer_tag: str, prefilled_think: bool = False) -> float:
    """0.25 for each of the four tags (opening and closing reasoning, opening and closing answer) that
    occurs exactly once and after the tag before it: a gradient toward the full layout."""
    names = (f"<{think_tag}>", f"</{think_tag}>", f"<{answer_tag}>", f"</{answer_tag}>")
    if prefilled_think and names[0] not in text:
        text = names[0] + text
    credit, previous = 0.0, -1
    for tag in names:
        position = text.find(tag)
        if text.count(tag) == 1 and position > previous:
            credit += 0.25
            previous = position
    return credit
