"""A judge's verdict on one criterion, read leniently.

The prompts ask for one format (a final `VERDICT: YES` or `VERDICT: NO` line), but served judges
answer in others too, so any of these counts, the last one in the text winning (a judge that
reconsiders ends on its final word):

- a JSON object with `verdict` (`YES`/`NO`, `true`/`false`, `met`/`not met`, ...), `satisfied` or
  `score` (0-1, or 0-10);
- a `VERDICT: YES|NO` line (markdown emphasis allowed);
- a `Rating: n` of 10 (`Rating: 7/10`), read as n/10.

Nothing readable is None: the caller reports `judge_unparsable`, never a 0.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

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

VERDICT_LINE = re.compile(r"verdict\s*[:=]\s*[*_`\"']*\s*(yes|no)\b", re.IGNORECASE)
RATING = re.compile(r"rating\s*[:=]\s*[*_`\"']*\s*(\d+(?:\.\d+)?)\s*(?:/\s*10\b|out of 10\b)?", re.IGNORECASE)


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
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if not math.isfinite(number) or number < 0 or number > 10:
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
    for key in ("score", "rating"):
        if key in payload:
            return number_verdict(payload[key])
    return None


def json_objects(text: str) -> list[tuple[int, Any]]:
    """(position, object) of the JSON objects in the text, at most MAX_OBJECTS of them."""
    decoder, found = json.JSONDecoder(), []
    for match in list(re.finditer(r"\{", text))[-MAX_OBJECTS:]:
        try:
            payload, _ = decoder.raw_decode(text, match.start())
        except (ValueError, RecursionError):
            continue
        found.append((match.start(), payload))
    return found


def read_verdict(text: str) -> float | None:
    """1.0 (satisfied), 0.0 (not), a share for a rating, or None when no verdict can be read."""
    text = text[-MAX_TEXT:]
    candidates: list[tuple[int, float]] = []
    for position, payload in json_objects(text):
        verdict = object_verdict(payload)
        if verdict is not None:
            candidates.append((position, verdict))
    candidates += [
        (m.start(), 1.0 if m.group(1).lower() == "yes" else 0.0) for m in VERDICT_LINE.finditer(text)
    ]
    for match in RATING.finditer(text):
        rating = float(match.group(1))
        if rating <= 10:
            candidates.append((match.start(), rating / 10))
    return max(candidates)[1] if candidates else None
