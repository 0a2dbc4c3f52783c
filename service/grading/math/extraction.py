"""Find the final answer in a completion, the way a grader reading it would.

First the **answer section**: with a reasoning block (`<think>…</think>`), only what follows it can
earn credit, and a reasoning block that never closes has no answer at all; an `<answer>` block,
when there is one, is the section. Nothing inside the reasoning is ever the final answer.

Then, in the section: the last complete `\\boxed{…}` (several boxes together are a second reading,
for a multi-valued gold), else the `<answer>` block, else "the answer is …". These run in the
service's own process. What they miss is left to math-verify's extraction
(`equivalence.section_verdict`, in a worker), with the last number as the final fallback. Each rule
is a small function so tests can pin it down.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*")
_SPACE_RUN = re.compile(r"[ \t\r\f\v]{2,}")
_ANSWER_TAG = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.S | re.I)
_ANSWER_PHRASE = re.compile(
    r"(?:final answer|the answer|answer)\s*(?:is|:|=)\s*:?\s*(.+?)\s*(?:$|\n|\.(?=\s|$))", re.I
)
_FINAL_PHRASE = re.compile(r"final answer\s*(?:is|:)\s*:?\s*(.+?)\s*(?:$|\n|\.(?=\s|$))", re.I)
_NUMBER = re.compile(r"(?<![A-Za-z\d])-?(?:\d[\d,]*(?:\.\d+)?|\.\d+)(?:/\d+)?(?![A-Za-z\d])")
# "1331 and 1728", "either 3 or 4": several values offered as the answer.
_HEDGE = re.compile(r"-?\d[\d,]*(?:\.\d+)?\s*(?:,?\s*(?:and|or)\s+|,\s+)-?\d")
# A multiple-choice letter stated in prose: "the correct one is (B).", "I pick option C: 12 meters."
_CHOICE_STATED = re.compile(
    r"\b(?i:option|choice|answer|pick|choose|select|correct one)(?:\s+(?i:is))?\s*:?\s*\(?([A-J])\b\)?"
)
_CHOICE_IN_PARENS = re.compile(r"\(([A-J])\)")


@dataclass(frozen=True)
class Extraction:
    answer: str
    method: str  # "boxed", "answer_tag" or "phrase"
    alternatives: tuple[str, ...] = ()
    """Other readings that may earn credit: several boxes together, for a multi-valued gold."""

    @property
    def candidates(self) -> tuple[str, ...]:
        return (self.answer, *self.alternatives)


@dataclass(frozen=True)
class Section:
    text: str
    tagged: bool
    """The text is the content of an `<answer>` block: all of it is the answer."""


def answer_section(text: str, think_tag: str | None = "think", prefilled: bool = False) -> Section | None:
    """The part of the completion that can hold the final answer; None when the reasoning never ends.
    `think_tag=None`: the completion has no reasoning block to skip; `prefilled`: the prompt opened it."""
    if think_tag is not None:
        opening, closing = f"<{think_tag}>", f"</{think_tag}>"
        if closing in text:
            text = text.rsplit(closing, 1)[1]
        elif opening in text or prefilled:
            return None  # truncated inside the reasoning
    text = _SPACE_RUN.sub(" ", text)  # runs of blanks would make the phrase rules backtrack for seconds
    tags = _ANSWER_TAG.findall(text)
    section = Section(tags[-1], True) if tags else Section(text, False)
    cut = _unclosed_box(section.text)
    return section if cut is None else Section(section.text[:cut], section.tagged)


def _unclosed_box(text: str) -> int | None:
    """Where a `\\boxed{` that never closes starts (a truncated completion): nothing from there on,
    not even a number inside it, is an answer."""
    for match in reversed(list(_BOXED.finditer(text))):
        end = match.end()
        if end < len(text) and text[end] == "{" and _braced(text, end) is None:
            return match.start()
    return None


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


def all_boxed(text: str) -> list[str]:
    """Contents of every complete `\\boxed{...}` (or `\\fbox{...}`, or `\\boxed 5`); an unclosed
    `\\boxed{` (a truncated completion) is not an answer."""
    return [box for box, _ in _boxes(text)]


def _boxes(text: str) -> list[tuple[str, int]]:
    """(content, end offset) of every complete box."""
    found = []
    for match in _BOXED.finditer(text):
        end = match.end()
        if end < len(text) and text[end] == "{":
            group = _braced(text, end)
            if group is not None:
                found.append((group[0].strip(), group[1]))
        elif match.group().endswith(" ") or match.group() == "\\boxed":
            token = re.match(r"[^\s$]+", text[end:])
            if token:
                found.append((token.group(), end + token.end()))
    return [(box, end) for box, end in found if box]


def last_boxed(text: str) -> str | None:
    boxes = all_boxed(text)
    return boxes[-1] if boxes else None


def answer_phrase(text: str) -> str | None:
    matches = _ANSWER_PHRASE.findall(text)
    return matches[-1].strip().strip("*").strip() or None if matches else None


def choice_in_prose(text: str) -> str | None:
    """The last multiple-choice letter the text states ("option C", "the answer is B"), else the one
    letter in parentheses, for golds that are a letter. Several letters in parentheses restate the
    options ("(A) 3 (B) 4 (C) 5"): they say nothing about the choice."""
    stated = _CHOICE_STATED.findall(text)
    if stated:
        return stated[-1]
    in_parens = set(_CHOICE_IN_PARENS.findall(text))
    return in_parens.pop() if len(in_parens) == 1 else None


def last_number(text: str) -> str | None:
    """The last number, or the whole last sentence when it offers several (so hedging is caught)."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+|\n", text.strip()) if _NUMBER.search(s)]
    if not sentences:
        return None
    last = sentences[-1]
    if _HEDGE.search(last[-500:]):  # bounded: a sentence of "1,1,1,…" must not cost seconds
        return last.strip().rstrip(".")
    return _NUMBER.findall(last)[-1]


def extract_answer(section: Section) -> Extraction | None:
    """Referee's own rules over an answer section. A "final answer is …" stated after the last box
    (an intermediate result boxed on the way) is the answer."""
    boxes = _boxes(section.text)
    stated = list(_FINAL_PHRASE.finditer(section.text))
    if stated and (not boxes or stated[-1].start() > boxes[-1][1]):
        statement = stated[-1].group(1)
        while (inner := _FINAL_PHRASE.search(statement)) is not None:  # "Final Answer: The final answer is 7"
            statement = inner.group(1)
        return Extraction(statement.strip().strip("*").strip(), "phrase")
    if boxes:
        distinct = tuple(dict.fromkeys(box for box, _ in boxes))
        return Extraction(boxes[-1][0], "boxed", (", ".join(distinct),) if len(distinct) > 1 else ())
    if section.tagged:
        return Extraction(section.text.strip(), "answer_tag") if section.text.strip() else None
    phrase = answer_phrase(section.text)
    return Extraction(phrase, "phrase") if phrase else None


def final_answer(text: str, think_tag: str | None = "think") -> str | None:
    """The final answer of a completion by Referee's own rules, else its last number (for readers of
    the answer that are not graders, e.g. the reward model's `final_answer` mode)."""
    section = answer_section(text, think_tag)
    if section is None:
        return None
    extraction = extract_answer(section)
    return extraction.answer if extraction else last_number(section.text)
