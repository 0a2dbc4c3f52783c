"""Verifier prompt templates as data: built-in presets (templates/presets.json) or a user file."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, Field

PRESETS_FILE = Path(__file__).parent / "templates" / "presets.json"


class VerifierTemplate(BaseModel):
    """How to ask a verifier model, and how to read its verdict."""

    name: str
    prompt: str = Field(..., description="Jinja template with `question`, `reference`, `response`.")
    verdict_pattern: str = Field(..., description="Regex whose first group is a label; the last match wins.")
    labels: dict[str, float] = Field(..., description="Label -> score (1.0 correct, 0.0 not).")
    decision_prefix: str = Field("", description="Text after which the verdict token comes (logprob mode).")
    description: str = ""

    def render(self, question: str, reference: str, response: str) -> str:
        # Sandboxed: a template file must not be able to reach Python objects.
        return (
            _environment()
            .from_string(self.prompt)
            .render(question=question, reference=reference, response=response)
        )

    @property
    def positive_label(self) -> str:
        return max(self.labels, key=self.labels.__getitem__)

    @property
    def negative_label(self) -> str:
        return min(self.labels, key=self.labels.__getitem__)


@cache
def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(autoescape=False, keep_trailing_newline=True)


def presets() -> dict[str, VerifierTemplate]:
    data = json.loads(PRESETS_FILE.read_text())
    return {name: VerifierTemplate(name=name, **spec) for name, spec in data.items()}


def load_template(name_or_path: str) -> VerifierTemplate:
    """A preset by name (`yes-no`, `xverify`, `compass`), or a JSON file with the same fields."""
    known = presets()
    if name_or_path in known:
        return known[name_or_path]
    path = Path(name_or_path)
    if path.is_file():
        return VerifierTemplate(name=path.stem, **json.loads(path.read_text()))
    raise ValueError(f"unknown template {name_or_path!r}: use one of {', '.join(known)} or a JSON file path")
