"""The policy's side of a trajectory: its assistant turns, the tool calls they make, the tools they
may call, and whether each call is valid.

A trajectory is an item's `completion` as chat messages after the prompt: `assistant` turns (the only
text the policy wrote), `tool` results and `user` observations from the environment. Tool calls are
read in every form trainers send them:

- OpenAI / vLLM / verl: `tool_calls: [{id, type: "function", function: {name, arguments: "<JSON>"}}]`;
- TRL: the same with `arguments` already an object, and no `id`;
- flat `{name, arguments}` entries;
- Hermes / Qwen text: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` blocks in the content
  (an unclosed last block counts too, as vLLM's parser reads it).

Unlike vLLM's parser, one malformed block does not hide the others: each block is one attempted call,
valid or not, because the validity reward must count it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

CallFormat = Literal["openai", "hermes", "auto"]

HERMES_BLOCK = re.compile(r"<tool_call>(.*?)</tool_call>|<tool_call>(.*)", re.DOTALL)
MAX_ARGUMENT_CHARS = 100_000  # longer argument strings are not parsed: a call that big is not valid


class Message(Protocol):
    """A chat message as the API's `Message` model has it: a role, its text, structured calls."""

    @property
    def role(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def tool_calls(self) -> list[Any] | None: ...


@dataclass(frozen=True)
class TextTurn:
    """A plain-string completion, seen as one assistant message."""

    text: str
    role: str = "assistant"
    tool_calls: list[Any] | None = None


@dataclass
class ToolCall:
    """One attempted call. `arguments` is None when they are not a JSON object; `problem` says why."""

    name: str | None
    arguments: dict[str, Any] | None
    turn: int  # which assistant turn (0-based) made it
    problem: str | None = None

    def canonical(self) -> str:
        """Name and arguments as one canonical JSON string, for comparing calls."""
        return json.dumps(
            {"name": self.name, "arguments": self.arguments}, sort_keys=True, ensure_ascii=False
        )


@dataclass
class Turn:
    """An assistant turn: where it is in the completion, its text and the calls it made."""

    index: int  # position in the completion's message list
    message: Message
    calls: list[ToolCall] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.message.text


def decode_arguments(value: Any) -> tuple[dict[str, Any] | None, str | None]:
    """Arguments as a dict: an object as it is, a JSON string parsed (twice if it was encoded twice,
    a known vLLM/chat-template bug). Returns (arguments, None) or (None, why not)."""
    if value is None:
        return {}, None  # TRL and OpenAI treat missing arguments as an empty object
    for _ in range(2):
        if isinstance(value, dict):
            return value, None
        if not isinstance(value, str):
            return None, f"arguments are {type(value).__name__}, not a JSON object"
        if len(value) > MAX_ARGUMENT_CHARS:
            return None, f"arguments longer than {MAX_ARGUMENT_CHARS} characters"
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as exc:
            return None, f"arguments are not valid JSON ({str(exc).splitlines()[0][:80]})"
    if isinstance(value, dict):
        return value, None
    return None, f"arguments are {type(value).__name__}, not a JSON object"


def structured_call(entry: Any, turn: int) -> ToolCall:
    """One `tool_calls` entry, nested (OpenAI, TRL) or flat (`{name, arguments}`)."""
    if not isinstance(entry, Mapping):
        return ToolCall(None, None, turn, f"a tool call is {type(entry).__name__}, not an object")
    nested = entry.get("function")
    function: Mapping[str, Any] = nested if isinstance(nested, Mapping) else entry
    name = function.get("name")
    arguments, problem = decode_arguments(function.get("arguments"))
    if not isinstance(name, str) or not name:
        return ToolCall(None, arguments, turn, "the call has no function name")
    return ToolCall(name, arguments, turn, problem)


def hermes_call(block: str, turn: int) -> ToolCall:
    """One `<tool_call>` block: `{"name": ..., "arguments": ...}` (`parameters` accepted too)."""
    if len(block) > MAX_ARGUMENT_CHARS:
        return ToolCall(None, None, turn, f"a <tool_call> block longer than {MAX_ARGUMENT_CHARS} characters")
    try:
        payload = json.loads(block)
    except (ValueError, RecursionError):
        return ToolCall(None, None, turn, "the <tool_call> block is not valid JSON")
    if not isinstance(payload, dict):
        return ToolCall(None, None, turn, "the <tool_call> block is not a JSON object")
    name = payload.get("name")
    arguments, problem = decode_arguments(payload.get("arguments", payload.get("parameters")))
    if not isinstance(name, str) or not name:
        return ToolCall(None, arguments, turn, "the <tool_call> block has no name")
    return ToolCall(name, arguments, turn, problem)


def hermes_blocks(text: str) -> list[str]:
    return [closed if closed else unclosed for closed, unclosed in HERMES_BLOCK.findall(text)]


def calls_in(message: Message, turn: int, call_format: CallFormat = "auto") -> list[ToolCall]:
    """The calls one assistant message makes: its `tool_calls` (`openai`), the `<tool_call>` blocks in its
    text (`hermes`), or with `auto` the former when it has any, else the latter."""
    structured = [structured_call(entry, turn) for entry in message.tool_calls or []]
    if call_format == "openai" or (call_format == "auto" and structured):
        return structured  # with parsed calls, a `<tool_call>` left in the text is the same call again
    return [hermes_call(block, turn) for block in hermes_blocks(message.text)]


def assistant_turns(completion: str | Sequence[Message], call_format: CallFormat = "auto") -> list[Turn]:
    """The policy's turns with their calls. A plain-string completion is one assistant turn."""
    if isinstance(completion, str):
        completion = [TextTurn(completion)]
    turns: list[Turn] = []
    for index, message in enumerate(completion):
        if message.role == "assistant":
            turns.append(Turn(index, message, calls_in(message, len(turns), call_format)))
    return turns


def tool_schemas(tools: Any) -> dict[str, dict[str, Any]]:
    """Tool name -> its `parameters` JSON Schema, from OpenAI chat definitions
    (`{type: "function", function: {name, parameters}}`) or the flat Responses form
    (`{type: "function", name, parameters}`). Raises ValueError for anything else."""
    if not isinstance(tools, list):
        raise ValueError("`tools` must be a list of function definitions")
    schemas: dict[str, dict[str, Any]] = {}
    for position, tool in enumerate(tools):
        definition = tool.get("function", tool) if isinstance(tool, Mapping) else None
        if not isinstance(definition, Mapping) or not isinstance(definition.get("name"), str):
            raise ValueError(f"tools[{position}] is not a function definition with a name")
        parameters = definition.get("parameters")
        if parameters is None:
            parameters = {"type": "object"}
        if not isinstance(parameters, Mapping):
            raise ValueError(f"tools[{position}].parameters must be a JSON Schema object")
        schemas[definition["name"]] = dict(parameters)
    return schemas


def schema_errors(arguments: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Why `arguments` does not validate against `schema` (Draft 2020-12, as given), each with its
    JSON path. An invalid schema is reported as such, never raised; `$ref`s resolve inside the schema
    only (jsonschema would otherwise fetch any URL or file a `$ref` names)."""
    from jsonschema import Draft202012Validator
    from referencing import Registry

    try:
        Draft202012Validator.check_schema(schema)
        validator = Draft202012Validator(schema, registry=Registry())
        errors = sorted(validator.iter_errors(arguments), key=lambda e: [str(p) for p in e.absolute_path])
    except Exception as exc:  # a bad schema (unresolvable $ref, ...) is the item's fault, not the call's
        return [f"the tool's parameters schema is unusable: {str(getattr(exc, 'message', exc))[:200]}"]
    return [f"{error.json_path + ': ' if error.absolute_path else ''}{error.message}" for error in errors]


def call_problems(call: ToolCall, schemas: Mapping[str, dict[str, Any]]) -> list[str]:
    """Empty when the call is valid: a known tool, arguments a JSON object matching its schema."""
    if call.problem is not None or call.name is None or call.arguments is None:
        return [call.problem or "malformed call"]
    if call.name not in schemas:
        return [f"unknown tool {call.name!r}"]
    return schema_errors(call.arguments, schemas[call.name])


@dataclass
class CallValidity:
    """Which of a trajectory's calls are valid, overall and turn by turn."""

    value: float  # valid calls / attempted calls
    shares: list[float]  # each turn's valid calls / all attempted calls: they sum to `value`
    per_turn: list[float | None]  # each turn's own valid share (None: the turn made no call)
    problems: str  # "call 2: unknown tool 'x'; ...", empty when every call is valid


def call_validity(turns: Sequence[Turn], schemas: Mapping[str, dict[str, Any]]) -> CallValidity | None:
    """The validity of every attempted call, or None when the trajectory attempts none."""
    calls = [call for turn in turns for call in turn.calls]
    if not calls:
        return None
    problems = [call_problems(call, schemas) for call in calls]
    valid = [not found for found in problems]
    shares, per_turn = [], []
    for turn in range(len(turns)):
        made = [ok for ok, call in zip(valid, calls, strict=True) if call.turn == turn]
        shares.append(sum(made) / len(calls))
        per_turn.append(sum(made) / len(made) if made else None)
    detail = "; ".join(f"call {number}: {found[0]}" for number, found in enumerate(problems, 1) if found)
    return CallValidity(sum(valid) / len(calls), shares, per_turn, detail)
