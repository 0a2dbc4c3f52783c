"""What grading one sample gives: the reward, OpenAI's error flags with their details, sub-scores
and model token usage. `metadata()` is the `metadata` object of OpenAI's `graders/run` response."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FLAGS = (
    "formula_parse_error",
    "invalid_variable_error",
    "model_grader_parse_error",
    "model_grader_refusal_error",
    "model_grader_server_error",
    "other_error",
    "python_grader_runtime_error",
    "python_grader_server_error",
    "sample_parse_error",
    "truncated_observation_error",
    "unresponsive_reward_error",
)
# The flags OpenAI pairs with a detail field, and that field's name.
DETAIL_FIELDS = {
    "model_grader_server_error": "model_grader_server_error_details",
    "python_grader_runtime_error": "python_grader_runtime_error_details",
    "python_grader_server_error": "python_grader_server_error_type",
}


@dataclass
class GraderResult:
    """One sample's grade. A raised flag makes the reward 0, as OpenAI does."""

    reward: float = 0.0
    flags: dict[str, str] = field(default_factory=dict)
    """Raised flag -> what happened (the detail OpenAI shows, or ours for flags without one)."""
    scores: dict[str, Any] = field(default_factory=dict)
    sub_rewards: dict[str, float] = field(default_factory=dict)
    usage: dict[str, dict[str, int]] = field(default_factory=dict)
    """Grader model -> prompt/completion/total tokens."""

    def fail(self, flag: str, detail: str) -> GraderResult:
        assert flag in FLAGS, flag
        self.flags.setdefault(flag, detail)
        self.reward = 0.0
        return self

    def absorb(self, other: GraderResult) -> None:
        """Take a sub-grader's flags and token usage (a multi grader reports them as its own)."""
        for flag, detail in other.flags.items():
            self.flags.setdefault(flag, detail)
        for model, counts in other.usage.items():
            total = self.usage.setdefault(model, {})
            for key, value in counts.items():
                total[key] = total.get(key, 0) + value

    @property
    def failed(self) -> bool:
        return bool(self.flags)

    @property
    def token_usage(self) -> int | None:
        return sum(c.get("total_tokens", 0) for c in self.usage.values()) if self.usage else None

    def error_flags(self) -> dict[str, Any]:
        errors: dict[str, Any] = {flag: flag in self.flags for flag in FLAGS}
        for flag, detail_field in DETAIL_FIELDS.items():
            errors[detail_field] = self.flags.get(flag)
        return errors

    def explain(self) -> str:
        """The raised flags and their details, one line (how `/v1/rewards` reports them)."""
        return "; ".join(f"{flag}: {detail}" if detail else flag for flag, detail in self.flags.items())
