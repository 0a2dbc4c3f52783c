"""Read a verdict out of a verifier's generated text."""

from __future__ import annotations

import re

from rm_models.templates import VerifierTemplate


def parse_verdict(text: str, template: VerifierTemplate) -> float | None:
    """The score of the last verdict label in `text`, or None when there is none (garbage, cut off)."""
    matches = re.findall(template.verdict_pattern, text)
    if not matches:
        return None
    label = matches[-1] if isinstance(matches[-1], str) else matches[-1][0]
    return template.labels.get(label)
