"""The rollout item a reward scores, as the API receives it: the wire model of the items of
`POST /v1/rewards`, below both the HTTP layer (`service.api.schemas` builds its requests from it)
and the rewards (which read it), so that neither imports the other."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator


class Message(BaseModel):
    """One chat message, as in TRL's conversational datasets and OpenAI's chat API: an assistant turn
    that only calls tools has `content: null`, and content may be a list of parts."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[Any] | None = Field(
        None,
        description='`[{id, type: "function", function: {name, arguments}}]`, `arguments` a JSON string '
        "(OpenAI, vLLM, verl) or an object (TRL); flat `{name, arguments}` entries too.",
    )
    tool_call_id: str | None = None
    name: str | None = None
    reasoning_content: str | None = None

    @property
    def text(self) -> str:
        """The content as text: the text parts of a part list joined, nothing for null."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(str(part.get("text", "")) for part in self.content if "text" in part)


Text = str | list[Message]


def message_text(value: Text | None) -> str:
    """A string, or a chat transcript's messages joined (for prompts)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return "\n".join(m.text for m in value)


def assistant_texts(value: Text) -> list[str]:
    """What the policy wrote: a string completion, or the assistant turns of a chat completion. Tool
    results and user turns are the environment's words and never count."""
    if isinstance(value, str):
        return [value]
    return [m.text for m in value if m.role == "assistant"]


def _number_as_text(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return value


class Item(BaseModel):
    """One rollout to score. Unknown fields are kept and handed to rewards, like TRL dataset columns."""

    model_config = ConfigDict(extra="allow")

    id: str | None = Field(None, description="Echoed back in the result; the index is used when absent.")
    group: str | None = Field(
        None,
        description="Rollout group (one prompt's G samples). Group rewards such as `length` use it; "
        "when absent the prompt text is the group.",
    )
    prompt: Text | None = None
    completion: Text = Field(..., description="The model output: a string or chat messages.")
    completion_tokens: int | None = Field(None, ge=0, description="Length in tokens, for length rewards.")
    answer: str | list[str] | None = Field(
        None, description="Gold answer (math) or reference (cot_rm); a list is several accepted answers."
    )
    tools: list[dict[str, Any]] | None = Field(
        None,
        description='Tools the policy may call: OpenAI function definitions `{type: "function", '
        "function: {name, description, parameters}}` or the flat `{type, name, parameters}` form.",
    )
    expected_calls: list[Any] | None = Field(
        None, description="`[{name, arguments}]` for `tool_calls_match`."
    )
    final_state: Any = Field(None, description="The environment's state at the end, for `state_check`.")
    expected_state: list[Any] | None = Field(
        None, description="`[{path, op, value}]` predicates on `final_state` (`state_check`)."
    )
    success: StrictBool | None = Field(None, description="The environment's verdict (`env_outcome`).")
    env_reward: float | None = Field(None, description="The environment's reward (`env_outcome`).")
    step_rewards: list[float] | None = Field(
        None, description="The environment's reward per assistant turn (`env_outcome`)."
    )
    anchors: list[str] | None = Field(
        None,
        description="One anchor per assistant turn (GiGPO step groups); default: a hash of the "
        "observation before the turn.",
    )
    admissible: list[Any] | None = Field(
        None, description="Admissible actions (`action_format`): one list, or one list per assistant turn."
    )

    @field_validator("tools", "expected_calls", "expected_state", mode="before")
    @classmethod
    def _json_text(cls, value: Any) -> Any:
        # Hugging Face datasets often store tool lists as JSON text (Arrow needs one schema per column).
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value  # not JSON: the type check names the field
        return value

    @field_validator("answer", "id", "group", mode="before")
    @classmethod
    def _numbers_as_text(cls, value: Any) -> Any:
        # Datasets often store gold answers and ids as numbers; they are compared as text.
        if isinstance(value, list):
            return [_number_as_text(v) for v in value] or None  # no accepted answer: as if absent
        return _number_as_text(value)

    @property
    def text(self) -> str:
        """The policy's final text: the completion, or the last assistant turn of a trajectory."""
        turns = assistant_texts(self.completion)
        return turns[-1] if turns else ""

    @property
    def golds(self) -> list[str]:
        """The accepted answers (empty without an `answer`)."""
        if self.answer is None:
            return []
        return list(self.answer) if isinstance(self.answer, list) else [self.answer]

    @property
    def prompt_text(self) -> str:
        return message_text(self.prompt)

    @property
    def group_key(self) -> str:
        return self.group if self.group is not None else self.prompt_text

    def get(self, name: str, default: Any = None) -> Any:
        """A declared or extra field by name (`tests`, `language`, `target_language`, ...)."""
        if name in type(self).model_fields:
            value = getattr(self, name)
            return default if value is None else value
        return (self.model_extra or {}).get(name, default)


def group_indices(items: Sequence[Item]) -> dict[str, list[int]]:
    """Item indices per rollout group, in first-seen order."""
    groups: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault(item.group_key, []).append(index)
    return groups
