"""Agent-trajectory rewards: tool-call validity, per-turn layout, the final answer, the calls made, the
environment's final state and verdict, and efficiency.

All of them read assistant turns only (`service.grading.trajectory`): a tool result or a user turn
that contains the gold answer never earns credit. Rewards that have a per-turn meaning return
`Score.turns`, the score split over the assistant turns, for the per-turn credit of a request with
`turns`.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.grading.errors import ErrorKind, ScoreError
from service.grading.trajectory import (
    CallFormat,
    ToolCall,
    Turn,
    assistant_turns,
    call_problems,
    calls_in,
    hermes_blocks,
    holds,
    structured_call,
    tool_schemas,
)
from service.items import Item, assistant_texts
from service.rewards.base import RewardContext, Score
from service.rewards.format import after_reasoning
from service.rewards.math import MathParams, math_reward

TAG_NAME = r"^[A-Za-z_][\w\-]*$"


def turns_of(item: Item, call_format: CallFormat) -> list[Turn]:
    return assistant_turns(item.completion, call_format)


def on_last_turn(value: float, count: int) -> list[float]:
    """An outcome's whole value on the last assistant turn (the turn that ended the trajectory)."""
    return [0.0] * (count - 1) + [value] if count else []


# tool_call_validity --------------------------------------------------------------------------------


class ToolCallValidityParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: CallFormat = Field(
        "auto",
        description="Where calls are read: `openai` (structured `tool_calls`), `hermes` (`<tool_call>` "
        "blocks in the text) or `auto` (both).",
    )
    if_none: float = Field(1.0, description="Score of a trajectory that attempts no call.")


def tool_call_validity_reward(
    items: Sequence[Item], params: ToolCallValidityParams, ctx: RewardContext
) -> list[Score]:
    """Valid tool calls / attempted ones, over all assistant turns.

    A call is valid when it names one of the item's `tools` and its arguments are a JSON object (an
    object, or a string that parses to one) that validates against that tool's `parameters` schema
    (JSON Schema 2020-12, as given). Every structured call and every `<tool_call>` block counts as
    attempted, parseable or not. `errors` lists each invalid call with the JSON path of the problem.
    """
    scores = []
    for item in items:
        try:
            schemas = tool_schemas(item.get("tools"))
        except ValueError as exc:
            scores.append(Score.fail(ErrorKind.invalid_item, str(exc)))
            continue
        turns = turns_of(item, params.format)
        calls = [call for turn in turns for call in turn.calls]
        if not calls:
            scores.append(Score(params.if_none, turns=on_last_turn(params.if_none, len(turns))))
            continue
        problems = [(number, call_problems(call, schemas)) for number, call in enumerate(calls, 1)]
        valid = [not found for _, found in problems]
        per_turn: list[float | None] = []
        for turn in range(len(turns)):
            made = [ok for ok, call in zip(valid, calls, strict=True) if call.turn == turn]
            per_turn.append(sum(made) / len(made) if made else None)
        shares = [
            sum(ok for ok, call in zip(valid, calls, strict=True) if call.turn == turn) / len(calls)
            for turn in range(len(turns))
        ]
        detail = "; ".join(f"call {number}: {found[0]}" for number, found in problems if found)
        error = ScoreError(ErrorKind.invalid_tool_call, detail) if detail else None
        scores.append(Score(sum(valid) / len(calls), error, turns=shares, per_turn=per_turn))
    return scores


# action_format -------------------------------------------------------------------------------------


class ActionFormatParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    layout: Literal["think_action", "tool_or_answer"] | list[str] = Field(
        "think_action",
        description="`think_action`: `<think>…</think><action>…</action>` (OpenManus-RL, verl-agent); "
        "`tool_or_answer`: a think block, then exactly one tool call or one `<answer>`; or an ordered "
        "list of tag names, each required once and non-empty.",
    )
    format: CallFormat = "auto"
    forbid_regex: str | None = Field(
        None, description="A turn matching this regular expression does not follow the layout."
    )
    aggregate: Literal["mean", "min", "penalty"] = Field(
        "mean",
        description="`mean` over turns, `min` (all or nothing), or `penalty`: −1 per turn that breaks the "
        "layout, 0 when none does (give it a small weight, as verl-agent's invalid-action penalty).",
    )
    case_sensitive_actions: bool = Field(
        False, description="Compare actions with the item's `admissible` ones case-sensitively."
    )

    @field_validator("layout")
    @classmethod
    def _tag_names(cls, value: Any) -> Any:
        if isinstance(value, list) and not (value and all(re.fullmatch(TAG_NAME, tag) for tag in value)):
            raise ValueError("a custom layout is a non-empty list of tag names")
        return value

    @field_validator("forbid_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value


def tagged_blocks(text: str, tags: Sequence[str]) -> list[str] | None:
    """The contents of `<t1>…</t1><t2>…</t2>…` in this order with only whitespace around and between
    them, each non-empty and free of the tags; None when the text is not exactly that. A scan, not a
    regular expression: lazy groups backtrack quadratically (or worse) on a degenerate completion."""
    contents, position = [], 0
    for tag in tags:
        opening, closing = f"<{tag}>", f"</{tag}>"
        while position < len(text) and text[position].isspace():
            position += 1
        if not text.startswith(opening, position):
            return None
        end = text.find(closing, position + len(opening))
        if end < 0:
            return None
        contents.append(text[position + len(opening) : end].strip())
        position = end + len(closing)
    if text[position:].strip() or not all(contents):
        return None
    if any(f"<{tag}>" in content or f"</{tag}>" in content for tag in tags for content in contents):
        return None  # a nested or repeated tag: not one block per tag
    return contents


def last_tagged(text: str, tag: str) -> str | None:
    """The content of the last complete `<tag>…</tag>` block."""
    end = text.rfind(f"</{tag}>")
    start = text.rfind(f"<{tag}>", 0, end) if end >= 0 else -1
    return text[start + len(tag) + 2 : end] if start >= 0 else None


def normalise_action(action: str, case_sensitive: bool) -> str:
    action = " ".join(action.split())
    return action if case_sensitive else action.lower()


def admissible_for(item: Item, turn: int) -> list[str] | None:
    """The item's `admissible` actions for this turn: one list for every turn, or one list per turn."""
    admissible = item.get("admissible")
    if not isinstance(admissible, list) or not admissible:
        return None
    if all(isinstance(entry, list) for entry in admissible):
        return [str(a) for a in admissible[turn]] if turn < len(admissible) else None
    return [str(a) for a in admissible]


def turn_follows_layout(item: Item, turn: Turn, number: int, params: ActionFormatParams) -> bool:
    text = turn.text
    if params.forbid_regex is not None and re.search(params.forbid_regex, text):
        return False
    if params.layout == "tool_or_answer":
        structured = calls_in(turn.message, number, "openai") if params.format != "hermes" else []
        think = re.match(r"\s*<think>(.*?)</think>(.*)", text, re.S)
        if think is None or not think.group(1).strip():
            return False
        rest = think.group(2)
        blocks = hermes_blocks(rest) if params.format != "openai" else []
        answer = tagged_blocks(rest, ["answer"])
        if answer is not None:
            return not structured and not blocks
        if len(blocks) == 1:
            return not structured and re.fullmatch(r"\s*<tool_call>.*</tool_call>\s*", rest, re.S) is not None
        return len(structured) == 1 and not rest.strip()
    tags = ["think", "action"] if params.layout == "think_action" else list(params.layout)
    contents = tagged_blocks(text, tags)
    if contents is None:
        return False
    allowed = admissible_for(item, number)
    if allowed is not None and "action" in tags:
        action = normalise_action(contents[tags.index("action")], params.case_sensitive_actions)
        return action in {normalise_action(a, params.case_sensitive_actions) for a in allowed}
    return True


def action_format_reward(
    items: Sequence[Item], params: ActionFormatParams, ctx: RewardContext
) -> list[Score]:
    """Share of assistant turns that follow the layout (`aggregate`: `min` all or nothing, `penalty` −1
    per broken turn).

    `think_action` is OpenManus-RL's and verl-agent's `<think>…</think><action>…</action>`; with an
    item field `admissible` (a list of actions, or one list per turn) the action must be one of them.
    Every tag must be non-empty and nothing may follow the last one. A trajectory without an
    assistant turn scores 0.
    """
    scores = []
    for item in items:
        turns = turns_of(item, params.format)
        if not turns:
            scores.append(Score.remark(0.0, ErrorKind.no_answer, "no assistant turn"))
            continue
        followed = [float(turn_follows_layout(item, turn, n, params)) for n, turn in enumerate(turns)]
        if params.aggregate == "min":
            value = min(followed)
            shares = on_last_turn(value, len(turns))
        elif params.aggregate == "penalty":
            shares = [f - 1.0 for f in followed]
            value = sum(shares)
        else:
            value = sum(followed) / len(turns)
            shares = [f / len(turns) for f in followed]
        broken = [str(n + 1) for n, f in enumerate(followed) if not f]
        error = ScoreError(ErrorKind.not_followed, f"turns {', '.join(broken)} do not follow the layout")
        scores.append(Score(value, error if broken else None, turns=shares, per_turn=list(followed)))
    return scores


# final_answer --------------------------------------------------------------------------------------


class FinalAnswerParams(BaseModel):
    source: str = Field(
        "last_message",
        alias="from",
        pattern=r"^(last_message|tag:[A-Za-z_][\w\-]*|tool:[^.\s]+\.[^\s]+)$",
        description="`last_message` (the last assistant turn's text, after its reasoning), `tag:answer` "
        "(the last `<answer>` block of any assistant turn) or `tool:<name>.<arg>` (that argument of "
        "the last call to a finish tool).",
    )
    match: Literal["math", "exact", "normalized", "f1"] = Field(
        "math",
        description="`math` (the math grader), `exact`, `normalized` (case, punctuation, articles, "
        "whitespace as SQuAD), `f1` (token F1, as SQuAD).",
    )
    format: CallFormat = "auto"
    think_tag: str | None = Field("think", pattern=TAG_NAME)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def final_answer_text(turns: Sequence[Turn], params: FinalAnswerParams) -> str | None:
    """The policy's final answer, from its own turns only; None when it gave none."""
    if params.source == "last_message":
        if not turns:
            return None
        return after_reasoning(turns[-1].text, params.think_tag).strip() or None
    if params.source.startswith("tag:"):
        for turn in reversed(turns):
            found = last_tagged(turn.text, params.source[4:])
            if found is not None:
                return found.strip() or None
        return None
    tool, argument = params.source[5:].split(".", 1)
    for call in reversed([call for turn in turns for call in turn.calls]):
        if call.name == tool and call.arguments is not None and argument in call.arguments:
            value = call.arguments[argument]
            return value if isinstance(value, str) else str(value)
    return None


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def token_f1(prediction: str, gold: str) -> float:
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((Counter(predicted) & Counter(expected)).values())
    if not predicted or not expected:
        return float(predicted == expected)
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def final_answer_reward(items: Sequence[Item], params: FinalAnswerParams, ctx: RewardContext) -> list[Score]:
    """The final answer, read from assistant text only, compared to `answer`.

    `from`: the last assistant message, an answer tag, or a finish tool's argument; `match`: `math`
    (Referee's math grader), `exact`, `normalized` or `f1`. No answer scores 0.
    """
    turns = [turns_of(item, params.format) for item in items]
    answers = [final_answer_text(item_turns, params) for item_turns in turns]
    by_index: dict[int, Score] = {}
    if params.match == "math":
        present = [i for i, answer in enumerate(answers) if answer is not None]
        graded = math_reward(
            [Item(completion=answers[i] or "", answer=items[i].answer) for i in present],
            MathParams(think_tag=None),
            ctx,
        )
        by_index = dict(zip(present, graded, strict=True))
    scores = []
    for index, (item, answer) in enumerate(zip(items, answers, strict=True)):
        if answer is None:
            scores.append(Score.remark(0.0, ErrorKind.no_answer, f"no final answer ({params.source})"))
            continue
        if params.match == "math":
            score = by_index[index]
        else:
            compare = {
                "exact": lambda a, g: float(a.strip() == g.strip()),
                "normalized": lambda a, g: float(normalize_answer(a) == normalize_answer(g)),
                "f1": token_f1,
            }[params.match]
            score = Score(max(compare(answer, gold) for gold in item.golds))
        scores.append(
            Score(score.value, score.error, turns=on_last_turn(score.value or 0.0, len(turns[index])))
        )
    return scores


# tool_calls_match ----------------------------------------------------------------------------------


class ToolCallsMatchParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["set", "f1", "subset_args", "sequence"] = Field(
        "f1",
        description="`set`: the calls equal the expected ones as a multiset (1 or 0); `f1`: F1 of the "
        "two multisets; `subset_args`: share of expected calls matched by a call with the same name whose "
        "arguments include the expected ones; `sequence`: the calls in the expected order (1 or 0).",
    )
    format: CallFormat = "auto"


def expected_calls(item: Item) -> list[ToolCall]:
    raw = item.get("expected_calls")
    if not isinstance(raw, list):
        raise ValueError("`expected_calls` must be a list of {name, arguments}")
    calls = [structured_call(entry, 0) for entry in raw]
    for number, call in enumerate(calls, 1):
        if call.problem or call.name is None or call.arguments is None:
            raise ValueError(f"expected_calls[{number - 1}]: {call.problem or 'malformed call'}")
    return calls


def includes(actual: Any, expected: Any) -> bool:
    """`expected` appears in `actual`: every expected key with an included value (recursively)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and includes(actual[k], v) for k, v in expected.items()
        )
    return bool(actual == expected)


def calls_match_score(made: list[ToolCall], wanted: list[ToolCall], mode: str) -> float:
    made_keys = [call.canonical() for call in made if call.name is not None]
    wanted_keys = [call.canonical() for call in wanted]
    if mode == "sequence":
        return float(made_keys == wanted_keys)
    if mode == "set":
        return float(Counter(made_keys) == Counter(wanted_keys))
    if mode == "subset_args":
        if not wanted:
            return 1.0
        unused = [call for call in made if call.name is not None]
        found = 0
        for call in wanted:
            match = next(
                (c for c in unused if c.name == call.name and includes(c.arguments, call.arguments)), None
            )
            if match is not None:
                unused.remove(match)
                found += 1
        return found / len(wanted)
    common = sum((Counter(made_keys) & Counter(wanted_keys)).values())
    if not made_keys and not wanted_keys:
        return 1.0
    if common == 0:
        return 0.0
    precision, recall = common / len(made_keys), common / len(wanted_keys)
    return 2 * precision * recall / (precision + recall)


def tool_calls_match_reward(
    items: Sequence[Item], params: ToolCallsMatchParams, ctx: RewardContext
) -> list[Score]:
    """The trajectory's tool calls against `expected_calls` (`[{name, arguments}]`), compared as
    canonical JSON (key order and argument encoding do not matter), by `mode`."""
    scores = []
    for item in items:
        try:
            wanted = expected_calls(item)
        except ValueError as exc:
            scores.append(Score.fail(ErrorKind.invalid_item, str(exc)))
            continue
        turns = turns_of(item, params.format)
        value = calls_match_score([c for t in turns for c in t.calls], wanted, params.mode)
        scores.append(Score(value, turns=on_last_turn(value, len(turns))))
    return scores


# state_check, env_outcome, efficiency -------------------------------------------------------------


class Predicate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    op: Literal["eq", "ne", "in", "contains", "exists", "gte", "lte"]
    value: Any = None


class StateCheckParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["fraction", "all"] = Field(
        "fraction", description="`fraction` of the predicates that hold, or `all` (1 or 0)."
    )


def state_check_reward(items: Sequence[Item], params: StateCheckParams, ctx: RewardContext) -> list[Score]:
    """Share of `expected_state` predicates (`{path, op, value}`, path like `cart.items.0.id`, op one of
    eq, ne, in, contains, exists, gte, lte) that hold on the environment's `final_state`."""
    scores = []
    for item in items:
        try:
            predicates = [Predicate.model_validate(p) for p in item.get("expected_state") or []]
        except ValueError as exc:
            scores.append(Score.fail(ErrorKind.invalid_item, f"expected_state: {exc}".splitlines()[0]))
            continue
        if not predicates:
            scores.append(Score.fail(ErrorKind.invalid_item, "no expected_state predicates"))
            continue
        state = item.get("final_state")
        results = [holds(state, p.path, p.op, p.value) for p in predicates]
        value = sum(results) / len(results) if params.mode == "fraction" else float(all(results))
        failed = [f"{p.path} {p.op} {p.value!r}" for p, ok in zip(predicates, results, strict=True) if not ok]
        count = len(assistant_texts(item.completion))
        error = ScoreError(ErrorKind.not_followed, "does not hold: " + "; ".join(failed)) if failed else None
        scores.append(Score(value, error, turns=on_last_turn(value, count)))
    return scores


def env_outcome_reward(items: Sequence[Item], params: BaseModel, ctx: RewardContext) -> list[Score]:
    """The environment's own verdict: `success` → 1/0; else `env_reward`; else the sum of
    `step_rewards` (which stay on their turns in per-turn credit)."""
    scores = []
    for item in items:
        count = len(assistant_texts(item.completion))
        success, env_reward, steps = item.get("success"), item.get("env_reward"), item.get("step_rewards")
        if isinstance(success, bool):
            value = float(success)
        elif isinstance(env_reward, int | float) and not isinstance(env_reward, bool):
            value = float(env_reward)
        elif isinstance(steps, list) and all(
            isinstance(s, int | float) and not isinstance(s, bool) for s in steps
        ):
            if count and len(steps) != count:
                scores.append(
                    Score.fail(
                        ErrorKind.invalid_item, f"{len(steps)} step_rewards for {count} assistant turns"
                    )
                )
                continue
            per_step = [float(s) for s in steps] if count else []
            scores.append(Score(float(sum(steps)), turns=per_step, per_turn=list(per_step)))
            continue
        else:
            scores.append(Score.fail(ErrorKind.invalid_item, "no success, env_reward or step_rewards"))
            continue
        scores.append(Score(value, turns=on_last_turn(value, count)))
    return scores


class EfficiencyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_turns: int = Field(10, ge=1, description="T at or past this scores 0.")
    count: Literal["turns", "tool_calls"] = Field("turns", description="T: assistant turns, or tool calls.")
    gate: str | None = Field(
        "final_answer",
        description="Reward that must be 1 for efficiency to count (computed first); `null`: no gate.",
    )
    format: CallFormat = "auto"


def efficiency_reward(items: Sequence[Item], params: EfficiencyParams, ctx: RewardContext) -> list[Score]:
    """1 − min(T, max_turns)/max_turns, only when the `gate` reward (default `final_answer`) is 1 for
    the item, else 0: a policy cannot earn it by giving up early."""
    gate = ctx.scores.get(params.gate) if params.gate else None
    scores = []
    for index, item in enumerate(items):
        turns = turns_of(item, params.format)
        if gate is not None and gate[index].value is None:
            scores.append(Score.fail(ErrorKind.dependency_failed, f"{params.gate} has no score"))
            continue
        if gate is not None and (gate[index].value or 0.0) < 1.0:
            scores.append(Score(0.0, turns=on_last_turn(0.0, len(turns))))
            continue
        if not turns:
            scores.append(Score.remark(0.0, ErrorKind.no_answer, "no assistant turn"))
            continue
        used = len(turns) if params.count == "turns" else sum(len(t.calls) for t in turns)
        value = 1.0 - min(used, params.max_turns) / params.max_turns
        scores.append(Score(value, turns=on_last_turn(value, len(turns))))
    return scores
