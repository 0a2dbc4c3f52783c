"""Reference-based answer equivalence by a judge model (xVerify / CompassVerifier style): given the
question, the gold answer and a response, is the response's final answer the gold one?

Three outcomes, as CompassVerifier has them: `equivalent` (A), `different` (B) and `invalid` (C: no
final answer, cut off, a refusal, several contradictory answers). The prompt asks for a final
`VERDICT: A|B|C` line; `CORRECT`/`INCORRECT`/`INVALID`, `equivalent`/`not equivalent` and a JSON
`{"verdict": ...}` are read too.
"""

from __future__ import annotations

import re
from typing import Literal

from service.grading.judging.fencing import DATA_RULE, fenced
from service.grading.judging.verdicts import json_objects, outside

Equivalence = Literal["equivalent", "different", "invalid"]

SYSTEM = (
    "You check answers. Compare the final answer of a response with the gold answer of a question. "
    + DATA_RULE
)

INSTRUCTIONS = """Decide:
A. EQUIVALENT: the response's final answer means the same as the gold answer (another form of the
   same number, expression, set or choice counts; rounding only when the question allows it).
B. DIFFERENT: the response gives a final answer and it is not the gold one.
C. INVALID: the response has no final answer, is cut off, refuses, or gives several answers.

End with exactly one line: `VERDICT: A`, `VERDICT: B` or `VERDICT: C`."""

WORDS: dict[str, Equivalence] = {
    "a": "equivalent",
    "equivalent": "equivalent",
    "correct": "equivalent",
    "same": "equivalent",
    "b": "different",
    "different": "different",
    "not equivalent": "different",
    "incorrect": "different",
    "wrong": "different",
    "c": "invalid",
    "invalid": "invalid",
}

# One filler class (adjacent optional runs backtrack quadratically on a run of spaces); a letter
# counts only when nothing but punctuation follows it on its line: "Verdict: a different number"
# is prose, not verdict A.
VERDICT = re.compile(
    r"(?:verdict|final answer|grade|judgement|judgment)[\s*_`\"'\[(:=]*"
    r"(not equivalent|equivalent|different|incorrect|correct|invalid|[abc](?=[ \t.)\]*`\"']*$))",
    re.IGNORECASE | re.MULTILINE,
)


def equivalence_messages(question: str, gold: str, response: str) -> list[dict[str, str]]:
    user = (
        f"## Question\n{fenced(question)}\n\n## Gold answer\n{fenced(gold)}\n\n"
        f"## Response\n{fenced(response)}\n\n{INSTRUCTIONS}"
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def read_equivalence(text: str) -> Equivalence | None:
    """The judge's outcome, the last one stated winning; None when it stated none."""
    text = text[-20_000:]
    found: list[tuple[int, Equivalence]] = []
    objects = json_objects(text)
    for position, _, payload in objects:
        if isinstance(payload, dict) and isinstance(payload.get("verdict"), str):
            outcome = WORDS.get(" ".join(payload["verdict"].lower().strip(" .*[]()").split()))
            if outcome is not None:
                found.append((position, outcome))
    found += [
        (m.start(), WORDS[" ".join(m.group(1).lower().split())])
        for m in VERDICT.finditer(text)
        if outside(m.start(), objects)
    ]
    if not found:
        bare = " ".join(text.strip().strip(".*`[]()").lower().split())
        return WORDS.get(bare)
    return max(found)[1]
