"""Find the final answer in a completion, the way a grader reading it would.

Order: the last `\\boxed{...}` (nested braces), else the last `<answer>` tag, else "the answer is ...",
else the last number. Each step is a small function so tests can pin down each rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*")
_ANSWER_TAG = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.S | re.I)
_ANSWER_PHRASE = re.compile(
    r"(?:final answer|the answer|answer)\s*(?:is|:|=)\s*:?\s*(.+?)\s*(?:$|\n|\.(?=\s|$))", re.I
)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?")
# "1331 and 1728", "either 3 or 4": several values offered as the answer.
_HEDGE = re.compile(r"-?\d[\d,]*(?:\.\d+)?\s*(?:,?\s*(?:and|or)\s+|,\s+)-?\d")


@dataclass(frozen=True)
class Extraction:
    answer: str
    method: str  # "boxed", "answer_tag", "phrase" or "last_number"


def _braced(text: str, start: int) -> tuple[str, int] | None:
    """The content of the brace group opening at `start`, honouring nesting and escaped braces."""
    depth = 0
    i = start
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in "{}":
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
        i += 1
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last complete `\\boxed{...}` (or `\\fbox{...}`, or `\\boxed 5`)."""
    found = None
    for match in _BOXED.finditer(text):
        end = match.end()
        if end < len(text) and text[end] == "{":
            group = _braced(text, end)
            if group is not None:
                found = group[0]
        elif match.group().endswith(" ") or match.group() == "\\boxed":
            token = re.match(r"[^\s$]+", text[end:])
            if token:
                found = token.group()
    return found.strip() if found is not None else None


def answer_tag(text: str) -> str | None:
    matches = _ANSWER_TAG.findall(text)
    return matches[-1].strip() or None if matches else None


def answer_phrase(text: str) -> str | None:
    matches = _ANSWER_PHRASE.findall(text)
    return matches[-1].strip().strip("*").strip() or None if matches else None


def last_number(text: str) -> str | None:
    """The last number, or the whole last sentence when it offers several (so hedging is caught)."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+|\n", text.strip()) if _NUMBER.search(s)]
    if not sentences:
        return None
    last = sentences[-1]
    if _HEDGE.search(last):
        return last.strip().rstrip(".")
    return _NUMBER.findall(last)[-1]


def extract_answer(text: str) -> Extraction | None:
    for method, extract in (
        ("boxed", last_boxed),
        ("answer_tag", answer_tag),
        ("phrase", answer_phrase),
        ("last_number", last_number),
    ):
        answer = extract(text)
        if answer:
            if method == "answer_tag":  # a box inside the tag is the more precise answer
                answer = last_boxed(answer) or answer
            return Extraction(answer, method)
    return None
