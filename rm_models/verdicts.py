"""What a verifier is asked (`Judgement`) and what it answers (`Verdict`; `Completion` for a chat),
and how a verdict is read out of generated text. Free of torch, so servers that only call a remote
verifier import it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rm_models.templates import VerifierTemplate


@dataclass(frozen=True)
class Judgement:
    question: str
    reference: str
    response: str


@dataclass
class Verdict:
    score: float | None
    error: str | None = None
    text: str = ""
    tokens: int = 0
    kind: str | None = None
    """Why there is no score, for a served judge: `judge_unavailable` or `judge_unparsable`."""


@dataclass
class Completion:
    """A grader model's free-form answer to a chat (OpenAI-style `score_model`/`label_model` graders)."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None
    """Why there is no text (the model failed, or cannot generate): the text is then empty."""
    model: str | None = None
    """The model that answered, when the backend says (a served judge does)."""


@dataclass(frozen=True)
class ChatOptions:
    """What a model grader asks of the model answering its chat. A served judge honours them; a
    local verifier decodes greedily up to its own token budget and ignores them."""

    model: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None


def parse_verdict(text: str, template: VerifierTemplate) -> float | None:
    """The score of the last verdict label in `text`, or None when there is none (garbage, cut off)."""
    matches = re.findall(template.verdict_pattern, text)
    if not matches:
        return None
    label = matches[-1] if isinstance(matches[-1], str) else matches[-1][0]
    return template.labels.get(label)
