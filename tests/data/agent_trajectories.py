"""Deterministic agent trajectories for the trajectory rewards, with golden scores.

Three small environments (a calculator, a key-value store, a shop with `search`/`add_to_cart`) are
driven by a scripted policy; each script can carry one injected defect (malformed JSON arguments, an
unknown tool, a missing / mistyped / extra argument, a broken Hermes block, an empty think block, no
tool call, a wrong final answer, running past `max_turns`, a tool output that contains the gold
answer). Each trajectory is emitted in four encodings that must score the same:

- `openai`: structured `tool_calls` with `arguments` as a JSON string, `tool` messages with ids;
- `trl`: `arguments` as an object, no ids (and, as TRL does, a call it cannot parse stays in the text);
- `hermes`: `<tool_call>{...}</tool_call>` blocks in the assistant text;
- `openmanus`: OpenManus-RL / verl-agent per-step rows, converted by `clients.agent`.

The golden scores are worked out by hand from the reward definitions in docs/agents.md, per defect.
Run as a script to print a summary: `python -m tests.data.agent_trajectories`.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

ENCODINGS = ("openai", "trl", "hermes", "openmanus")
MAX_TURNS = 6


def function(
    name: str, description: str, properties: dict[str, Any], required: list[str], **extra: Any
) -> dict:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required, **extra},
        },
    }


CALCULATOR_TOOLS = [
    function(
        "calculator", "Evaluate an arithmetic expression.", {"expression": {"type": "string"}}, ["expression"]
    )
]
KV_TOOLS = [
    function(
        "kv_set", "Store a value.", {"key": {"type": "string"}, "value": {"type": "string"}}, ["key", "value"]
    ),
    function("kv_get", "Read a value.", {"key": {"type": "string"}}, ["key"]),
]
SHOP_TOOLS = [  # the flat Responses form, and strict objects: extra arguments are errors here
    {
        "type": "function",
        "name": "search",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}, "max_results": {"type": "integer", "minimum": 1}},
            "required": ["query"],
            "additionalProperties": False,
        },
    },
    {
        "type": "function",
        "name": "add_to_cart",
        "parameters": {
            "type": "object",
            "properties": {"item_id": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1}},
            "required": ["item_id", "quantity"],
            "additionalProperties": False,
        },
    },
]
CATALOG = [
    {"id": "m1", "name": "red mug", "price": 12},
    {"id": "m2", "name": "red mug", "price": 9},
    {"id": "b1", "name": "blue mug", "price": 7},
]


@dataclass
class Call:
    name: str
    arguments: dict[str, Any] | str  # a str is raw (possibly broken) JSON text
    result: str = ""


@dataclass
class Step:
    think: str
    call: Call | None = None
    answer: str | None = None
    raw_text_call: str | None = None  # a <tool_call> block the model wrote that no parser accepts


@dataclass
class Case:
    name: str
    env: str
    prompt: str
    answer: str
    tools: list[dict[str, Any]]
    steps: list[Step]
    expected: dict[str, float]
    expected_calls: list[dict[str, Any]] = field(default_factory=list)
    final_state: dict[str, Any] | None = None
    expected_state: list[dict[str, Any]] | None = None
    success: bool | None = None


# The environments ------------------------------------------------------------------------------


def perfect(turns: int) -> dict[str, float]:
    """The golden scores of a defect-free script of `turns` assistant turns."""
    return {
        "tool_call_validity": 1.0,
        "final_answer": 1.0,
        "efficiency": 1 - turns / MAX_TURNS,
        "action_format": 1.0,
    }


def calculator_steps(expression: str, value: str) -> list[Step]:
    return [
        Step("I should compute this with the tool.", Call("calculator", {"expression": expression}, value)),
        Step(f"The tool says {value}.", answer=value),
    ]


def kv_steps() -> list[Step]:
    return [
        Step("Store it first.", Call("kv_set", {"key": "color", "value": "blue"}, "ok")),
        Step("Now read it back.", Call("kv_get", {"key": "color"}, "blue")),
        Step("The stored value is blue.", answer="blue"),
    ]


def shop_steps() -> list[Step]:
    found = json.dumps([item for item in CATALOG if item["name"] == "red mug"])
    return [
        Step("Find the red mugs.", Call("search", {"query": "red mug", "max_results": 5}, found)),
        Step("m2 is the cheapest.", Call("add_to_cart", {"item_id": "m2", "quantity": 1}, "added m2")),
        Step("Done: m2 is in the cart.", answer="m2"),
    ]


def base_cases() -> list[Case]:
    return [
        Case(
            "calculator/ok",
            "calculator",
            "What is 37*89? Use the calculator.",
            "3293",
            CALCULATOR_TOOLS,
            calculator_steps("37*89", "3293"),
            perfect(turns=2),
            expected_calls=[{"name": "calculator", "arguments": {"expression": "37*89"}}],
            success=True,
        ),
        Case(
            "kv/ok",
            "kv",
            "Store 'blue' under 'color', then read it back and tell me the value.",
            "blue",
            KV_TOOLS,
            kv_steps(),
            perfect(turns=3),
            expected_calls=[
                {"name": "kv_set", "arguments": {"key": "color", "value": "blue"}},
                {"name": "kv_get", "arguments": {"key": "color"}},
            ],
            final_state={"store": {"color": "blue"}},
            expected_state=[{"path": "store.color", "op": "eq", "value": "blue"}],
            success=True,
        ),
        Case(
            "shop/ok",
            "shop",
            "Add the cheapest red mug to the cart and answer with its id.",
            "m2",
            SHOP_TOOLS,
            shop_steps(),
            perfect(turns=3),
            expected_calls=[
                {"name": "search", "arguments": {"query": "red mug", "max_results": 5}},
                {"name": "add_to_cart", "arguments": {"item_id": "m2", "quantity": 1}},
            ],
            final_state={"cart": {"items": [{"id": "m2", "quantity": 1}], "total": 9}},
            expected_state=[
                {"path": "cart.items.0.id", "op": "eq", "value": "m2"},
                {"path": "cart.total", "op": "lte", "value": 10},
            ],
            success=True,
        ),
    ]


# The defects -----------------------------------------------------------------------------------


def retry_first_call(case: Case, bad: Call | None, raw: str | None, suffix: str) -> Case:
    """The first call goes wrong, the environment reports an error, and the policy retries it
    correctly: one more turn, one invalid call out of n + 1."""
    broken = copy.deepcopy(case)
    good = broken.steps[0]
    first = Step(good.think, bad, raw_text_call=raw)
    if bad is not None:
        bad.result = "error: invalid call"
    broken.steps = [first, *broken.steps]
    calls = sum(step.call is not None for step in case.steps)
    turns = len(broken.steps)
    broken.name = f"{case.env}/{suffix}"
    broken.expected = {
        **case.expected,
        "tool_call_validity": calls / (calls + 1),
        "efficiency": 1 - turns / MAX_TURNS,
    }
    return broken


def defects(case: Case) -> list[Case]:
    first = case.steps[0].call
    assert first is not None and isinstance(first.arguments, dict)
    argument, value = next(iter(first.arguments.items()))
    out = [
        retry_first_call(case, Call(first.name, json.dumps(first.arguments)[:-2]), None, "malformed-json"),
        retry_first_call(case, Call(first.name + "_v2", first.arguments), None, "unknown-tool"),
        retry_first_call(case, Call(first.name, {}), None, "missing-argument"),
        retry_first_call(
            case, Call(first.name, {**first.arguments, argument: [value]}), None, "mistyped-argument"
        ),
        retry_first_call(
            case,
            None,
            '<tool_call>{"name": "' + first.name + '", "arguments": {</tool_call>',
            "broken-hermes",
        ),
    ]
    extra = retry_first_call(
        case, Call(first.name, {**first.arguments, "verbose": True}), None, "extra-argument"
    )
    if case.env != "shop":  # no additionalProperties: an extra argument is allowed
        extra.expected["tool_call_validity"] = 1.0
    out.append(extra)

    empty_think = copy.deepcopy(case)
    empty_think.name = f"{case.env}/empty-think"
    empty_think.steps[0].think = ""
    empty_think.expected = {**case.expected, "action_format": 1 - 1 / len(case.steps)}
    out.append(empty_think)

    guess = copy.deepcopy(case)
    guess.name = f"{case.env}/no-tool-call"
    guess.steps = [Step("I will just guess.", answer=case.answer if case.env == "calculator" else "no idea")]
    right = 1.0 if case.env == "calculator" else 0.0
    guess.expected = {
        "tool_call_validity": 1.0,  # if_none
        "final_answer": right,
        "efficiency": (1 - 1 / MAX_TURNS) * right,
        "action_format": 1.0,
    }
    guess.success = bool(right)
    out.append(guess)

    wrong = copy.deepcopy(case)
    wrong.name = f"{case.env}/wrong-answer"
    wrong.steps[-1].answer = "41" if case.env == "calculator" else "m1"
    wrong.expected = {**case.expected, "final_answer": 0.0, "efficiency": 0.0}
    wrong.success = False
    out.append(wrong)

    looping = copy.deepcopy(case)
    looping.name = f"{case.env}/past-max-turns"
    looping.steps = [copy.deepcopy(case.steps[0]) for _ in range(MAX_TURNS + 2)] + [
        copy.deepcopy(case.steps[-1])
    ]
    looping.expected = {**case.expected, "efficiency": 0.0}
    out.append(looping)

    leaked = copy.deepcopy(case)
    leaked.name = f"{case.env}/answer-only-in-tool-output"
    assert leaked.steps[0].call is not None
    leaked.steps[0].call.result = f"the answer is {case.answer}"
    leaked.steps[-1].answer = None
    leaked.steps[-1].think = "I am not sure."
    leaked.expected = {
        **case.expected,
        "final_answer": 0.0,
        "efficiency": 0.0,
        "action_format": 1 - 1 / len(case.steps),
    }
    leaked.success = False
    out.append(leaked)
    return out


def cases() -> list[Case]:
    every = [variant for case in base_cases() for variant in (case, *defects(case))]
    for case in every:
        case.expected["env_outcome"] = float(bool(case.success))
    return every


# The encodings ---------------------------------------------------------------------------------


def argument_text(arguments: dict[str, Any] | str) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def hermes_block(call: Call) -> str:
    if isinstance(call.arguments, str):  # broken JSON stays broken in the block
        return f'<tool_call>{{"name": "{call.name}", "arguments": {call.arguments}}}</tool_call>'
    return "<tool_call>" + json.dumps({"name": call.name, "arguments": call.arguments}) + "</tool_call>"


def step_text(step: Step, encoding: str) -> str:
    """The assistant text of a step; the call inside it for text encodings."""
    text = f"<think>{step.think}</think>"
    if step.raw_text_call is not None:
        return text + step.raw_text_call
    if step.answer is not None:
        return text + f"<answer>{step.answer}</answer>"
    if step.call is None:  # the policy stopped without a call or an answer
        return text
    if encoding in ("hermes", "openmanus") or (encoding == "trl" and isinstance(step.call.arguments, str)):
        return text + hermes_block(step.call)
    return text


def messages(case: Case, encoding: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for number, step in enumerate(case.steps):
        message: dict[str, Any] = {"role": "assistant", "content": step_text(step, encoding)}
        call = step.call
        structured = (
            call is not None and step.raw_text_call is None and "<tool_call>" not in message["content"]
        )
        if structured and call is not None:
            if encoding == "openai":
                message["tool_calls"] = [
                    {
                        "id": f"call_{number}",
                        "type": "function",
                        "function": {"name": call.name, "arguments": argument_text(call.arguments)},
                    }
                ]
            else:
                message["tool_calls"] = [
                    {"type": "function", "function": {"name": call.name, "arguments": call.arguments}}
                ]
        out.append(message)
        if call is not None or step.raw_text_call is not None:
            result = call.result if call is not None else "error: could not parse the tool call"
            if encoding == "openai":
                out.append({"role": "tool", "tool_call_id": f"call_{number}", "content": result})
            else:
                out.append({"role": "tool", "name": call.name if call else "unknown", "content": result})
    return out


def item(case: Case, encoding: str) -> dict[str, Any]:
    """The case as a trajectory item (for `openmanus`, as step rows: see `step_rows`)."""
    if encoding == "openmanus":
        raise ValueError("openmanus trajectories are step rows: use step_rows()")
    return {
        "id": case.name,
        "group": case.env,
        "prompt": [{"role": "user", "content": case.prompt}],
        "completion": messages(case, encoding),
        **extra_fields(case),
        "success": bool(case.success),
    }


def step_rows(case: Case) -> list[dict[str, Any]]:
    """OpenManus-RL / verl-agent rows: one per environment step, the observation the policy saw, its
    action text, the step's reward and flags."""
    rows = []
    observation = case.prompt
    for number, step in enumerate(case.steps):
        done = number == len(case.steps) - 1
        rows.append(
            {
                "uid": case.env,
                "traj_uid": case.name,
                "anchor_obs": observation,
                "observation": observation,
                "action": step_text(step, "openmanus"),
                "reward": 0.0,
                "done": done,
                "won": bool(case.success) if done else False,
                "is_action_valid": True,
            }
        )
        observation = step.call.result if step.call is not None else "error: could not parse the tool call"
    return rows


def extra_fields(case: Case) -> dict[str, Any]:
    """What the step rows do not carry and a trainer knows per task."""
    fields: dict[str, Any] = {
        "answer": case.answer,
        "tools": case.tools,
        "expected_calls": case.expected_calls,
    }
    if case.final_state is not None:
        fields["final_state"] = case.final_state
        fields["expected_state"] = case.expected_state
    return fields


if __name__ == "__main__":
    for case in cases():
        print(case.name, json.dumps(case.expected))
