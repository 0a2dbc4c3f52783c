"""Agent-trajectory rewards: tool-call validity, per-turn layout, the final answer, the calls made, the
environment's final state and verdict, and efficiency.

The checks themselves are plain Python in `service.grading.trajectory`. All of them read assistant
turns only: a tool result or a user turn that contains the gold answer never earns credit.
Rewards that have a per-turn meaning return `Score.turns`, the score split over the assistant turns,
for the per-turn credit of a request with `turns`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.grading.errors import ErrorKind, ScoreError
from service.grading.trajectory.answers import TextMatch, final_answer_text, text_match
from service.grading.trajectory.environment import Op, holds
from service.grading.trajectory.layout import TAG_NAME, Layout, admissible_actions, follows_layout
from service.grading.trajectory.matching import MatchMode, calls_match_score, expected_calls
from service.grading.trajectory.turns import CallFormat, Turn, assistant_turns, call_validity, tool_schemas
from service.items import Item, assistant_texts
from service.rewards.base import RewardContext, Score
from service.rewards.math import MathParams, math_reward


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
        validity = call_validity(turns, schemas)
        if validity is None:
            scores.append(Score(params.if_none, turns=on_last_turn(params.if_none, len(turns))))
            continue
        error = ScoreError(ErrorKind.invalid_tool_call, validity.problems) if validity.problems else None
        scores.append(Score(validity.value, error, turns=validity.shares, per_turn=validity.per_turn))
    return scores


# action_format -------------------------------------------------------------------------------------


class ActionFormatParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    layout: Layout = Field(
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
        followed = [
            float(
                follows_layout(
                    turn,
                    number,
                    params.layout,
                    call_format=params.format,
                    forbid_regex=params.forbid_regex,
                    admissible=admissible_actions(item.get("admissible"), number),
                    case_sensitive_actions=params.case_sensitive_actions,
                )
            )
            for number, turn in enumerate(turns)
        ]
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
    match: Literal["math"] | TextMatch = Field(
        "math",
        description="`math` (the math grader), `exact`, `normalized` (case, punctuation, articles, "
        "whitespace as SQuAD), `f1` (token F1, as SQuAD).",
    )
    format: CallFormat = "auto"
    think_tag: str | None = Field("think", pattern=TAG_NAME)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def final_answer_reward(items: Sequence[Item], params: FinalAnswerParams, ctx: RewardContext) -> list[Score]:
    """The final answer, read from assistant text only, compared to `answer`.

    `from`: the last assistant message, an answer tag, or a finish tool's argument; `match`: `math`
    (Referee's math grader), `exact`, `normalized` or `f1`. No answer scores 0.
    """
    turns = [turns_of(item, params.format) for item in items]
    answers = [final_answer_text(item_turns, params.source, params.think_tag) for item_turns in turns]
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
            score = Score(text_match(answer, item.golds, params.match))
        scores.append(
            Score(score.value, score.error, turns=on_last_turn(score.value or 0.0, len(turns[index])))
        )
    return scores


# tool_calls_match ----------------------------------------------------------------------------------


class ToolCallsMatchParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: MatchMode = Field(
        "f1",
        description="`set`: the calls equal the expected ones as a multiset (1 or 0); `f1`: F1 of the "
        "two multisets; `subset_args`: share of expected calls matched by a call with the same name whose "
        "arguments include the expected ones; `sequence`: the calls in the expected order (1 or 0).",
    )
    format: CallFormat = "auto"


def tool_calls_match_reward(
    items: Sequence[Item], params: ToolCallsMatchParams, ctx: RewardContext
) -> list[Score]:
    """The trajectory's tool calls against `expected_calls` (`[{name, arguments}]`), compared as
    canonical JSON (key order and argument encoding do not matter), by `mode`."""
    scores = []
    for item in items:
        try:
            wanted = expected_calls(item.get("expected_calls"))
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
    op: Op
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
