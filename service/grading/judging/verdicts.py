"""A judge's verdict on one criterion, read leniently.

The prompts ask for one format (a final `VERDICT: YES` or `VERDICT: NO` line), but served judges
answer in others too, so any of these counts, the last one in the text winning (a judge that
reconsiders ends on its final word):

- a JSON object with `verdict` (`YES`/`NO`, `true`/`false`, `met`/`not met`, ...), `satisfied` or
  `score` (0-1, or 0-10);
- a `VERDICT: YES|NO` line (markdown emphasis allowed);
- a `Rating: n` (of 10, or of what it says: `Rating: 4/5`), read as a share.

A verdict inside a JSON object (a nested `score`, a `Rating:` in its reasoning) is part of that
object, not a later verdict.

Nothing readable is None: the caller reports `judge_unparsable`, never a 0.
"""

from __future__ import annotations

import json
import re
from typing import Any

from service.grading.numbers import finite_number

MAX_TEXT = 20_000  # the verdict is at the end; a judge that rambles does not cost a scan of megabytes
MAX_OBJECTS = 200

YES = frozenset({"yes", "y", "true", "pass", "passed", "met", "satisfied", "correct", "1"})
NO = frozenset(
    {
        "no",
        "n",
        "false",
        "fail",
        "failed",
        "not met",
        "unmet",
        "not satisfied",
        "unsatisfied",
        "incorrect",
        "0",
    }
)

# One character class between the keyword and the value: adjacent optional runs (`\s*[*_]*\s*`) can
# split the same spaces many ways, which backtracks quadratically on a judge stuck emitting spaces.
FILLER = r"[\s*_`\"'=:]*"
VERDICT_LINE = re.compile(rf"verdict{FILLER}(yes|no)\b", re.IGNORECASE)
RATING = re.compile(
    rf"rating{FILLER}(\d{{1,3}}(?:\.\d{{1,3}})?)(?:[ \t]*(?:/|out of)[ \t]*(\d{{1,3}}))?", re.IGNORECASE
)


def word_verdict(value: Any) -> float | None:
    """YES/NO-like words and booleans as 1.0/0.0."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        word = " ".join(value.strip().strip(".!*_`").lower().split())
        if word in YES:
            return 1.0
        if word in NO:
            return 0.0
    return None


def number_verdict(value: Any) -> float | None:
    """A score in 0-1 as it is, in (1, 10] as tenths; anything else (negative, NaN, 11) is None."""
    number = finite_number(value)
    if number is None or number < 0 or number > 10:
        return None
    return number if number <= 1 else number / 10


def object_verdict(payload: Any) -> float | None:
    if not isinstance(payload, dict):
        return None
    for key in ("verdict", "satisfied", "met", "result", "answer"):
        if key in payload:
            found = word_verdict(payload[key])
            if found is not None:
                return found
    if "score" in payload:
        return number_verdict(payload["score"])
    if "rating" in payload:
        return rating_verdict(payload["rating"], 10)
    return None


def rating_verdict(value: Any, out_of: float) -> float | None:
    """A rating of `out_of` as a share; outside 0..out_of (or not a number) is None."""
    number = finite_number(value)
    return number / out_of if number is not None and out_of > 0 and 0 <= number <= out_of else None


def json_objects(text: str) -> list[tuple[int, int, Any]]:
    """(start, end, object) of the top-level JSON objects among the text's last MAX_OBJECTS braces:
    an object nested in one already read is part of it, not a later verdict."""
    decoder, found, covered = json.JSONDecoder(), [], -1
    for match in list(re.finditer(r"\{", text))[-MAX_OBJECTS:]:
        if match.start() < covered:
            continue
        try:
            payload, end = decoder.raw_decode(text, match.start())
        except (ValueError, RecursionError):
            continue
        found.append((match.start(), end, payload))
        covered = end
    return found


def outside(position: int, spans: list[tuple[int, int, Any]]) -> bool:
    """Not inside a JSON object: a `Rating: 3` in an object's reasoning string is not a verdict."""
    return not any(start <= position < end for start, end, _ in spans)


def read_verdict(text: str) -> float | None:
    """1.0 (satisfied), 0.0 (not), a share for a rating, or None when no verdict can be read."""
    text = text[-MAX_TEXT:]
    objects = json_objects(text)
    candidates: list[tuple[int, float]] = []
    for start, _, payload in objects:
        verdict = object_verdict(payload)
        if verdict is not None:
            candidates.append((start, verdict))
    for match in VERDICT_LINE.finditer(text):
        if outside(match.start(), objects):
            candidates.append((match.start(), 1.0 if match.group(1).lower() == "yes" else 0.0))
    for match in RATING.finditer(text):
        rating = rating_verdict(match.group(1), float(match.group(2) or 10))
        if rating is not None and outside(match.start(), objects):
            candidates.append((match.start(), rating))
    return max(candidates)[1] if candidates else None
