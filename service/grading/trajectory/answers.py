"""The final answer a trajectory gives, read from the policy's own turns only, and the text
comparisons SQuAD-style QA uses (exact, normalised, token F1)."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import Literal

from service.grading.reasoning import after_reasoning
from service.grading.trajectory.layout import last_tagged
from service.grading.trajectory.turns import Turn

TextMatch = Literal["exact", "normalized", "f1"]


def final_answer_text(turns: Sequence[Turn], source: str, think_tag: str | None = "think") -> str | None:
    """The policy's final answer, or None when it gave none. `source`: `last_message` (the last turn's
    text after its reasoning), `tag:<name>` (the last such block of any turn) or `tool:<name>.<arg>`
    (that argument of the last call to the finish tool)."""
    if source == "last_message":
        if not turns:
            return None
        return after_reasoning(turns[-1].text, think_tag).strip() or None
    if source.startswith("tag:"):
        for turn in reversed(turns):
            found = last_tagged(turn.text, source[4:])
            if found is not None:
                return found.strip() or None
        return None
    tool, argument = source[5:].split(".", 1)
    for call in reversed([call for turn in turns for call in turn.calls]):
        if call.name == tool and call.arguments is not None and argument in call.arguments:
            value = call.arguments[argument]
            return value if isinstance(value, str) else str(value)
    return None


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def token_f1(prediction: str, gold: str) -> float:
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((Counter(predicted) & Counter(expected)).values())
    if not predicted or not expected:
        return float(predicted == expected)
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def text_match(answer: str, golds: Sequence[str], match: TextMatch) -> float:
    """The best match of the answer against any of the golds."""
    compare = {
        "exact": lambda a, g: float(a.strip() == g.strip()),
        "normalized": lambda a, g: float(normalize_answer(a) == normalize_answer(g)),
        "f1": token_f1,
    }[match]
    return max((compare(answer, gold) for gold in golds), default=0.0)
