"""The HTTP API contract: every request and response body, as pydantic models.

The OpenAPI document (`/docs`, `/openapi.json`) and the docs' API page are generated
from these models and from `service.items` (the rollout item, which the rewards use too), so these
two modules are the one place the API is defined.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sandboxes.base import RunRequest, RunResult
from service.grading.graders.config import Grader
from service.items import Item, Message
from service.selection.recipes import Recipe, ScoredItem


class RewardRequest(BaseModel):
    """Score a batch of rollouts with a weighted set of rewards."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "rewards": {"math": 1.0, "format": 0.1},
                    "params": {"format": {"prefilled_think": False}},
                    "items": [
                        {
                            "id": "q7-3",
                            "group": "q7",
                            "prompt": "What is 1/2 + 0?",
                            "completion": "<think>trivial</think>The answer is $\\boxed{\\frac{1}{2}}$.",
                            "answer": "\\frac{1}{2}",
                        }
                    ],
                }
            ]
        },
    )

    rewards: dict[str, float] | None = Field(
        None, description="Reward name -> weight. Give this or `profile`."
    )
    profile: str | None = Field(None, description="A named weight set, e.g. `r1-math`.")
    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per-reward options, keyed by reward name."
    )
    run: str | None = Field(
        None,
        max_length=200,
        description="The training run, for the reward inspector (or the `X-Referee-Run` header).",
    )
    step: int | None = Field(
        None, ge=0, description="The trainer's step, for the reward inspector (or `X-Referee-Step`)."
    )
    items: list[Item]
    turns: TurnCredit | None = Field(
        None, description='Per-turn credit for trajectories, e.g. `{"gamma": 1.0}`: results carry `turns`.'
    )

    @model_validator(mode="after")
    def _rewards_or_profile(self) -> RewardRequest:
        if (self.rewards is None) == (self.profile is None):
            raise ValueError("give exactly one of `rewards` (name -> weight) or `profile`")
        return self


class TurnCredit(BaseModel):
    """Ask for per-turn credit: each result then carries `turns`."""

    model_config = ConfigDict(extra="forbid")

    gamma: float = Field(1.0, ge=0, le=1, description="Discount of the per-turn returns.")


class TurnBreakdown(BaseModel):
    """A trajectory's reward per assistant turn: outcome rewards on the last turn, per-turn rewards on
    their turns; `rewards` sums to the item's `reward`. Referee computes no advantages."""

    message_index: list[int] = Field(..., description="Each assistant turn's index in `completion`.")
    scores: dict[str, list[float | None]] = Field(
        ..., description="Per-turn scores of the rewards that have them (e.g. `action_format`)."
    )
    rewards: list[float] = Field(..., description="Each turn's share of the weighted reward.")
    returns: list[float] = Field(..., description="Discounted returns G_t = r_t + gamma G_{t+1}.")
    anchors: list[str] = Field(
        ...,
        description="The item's `anchors`, else a stable hash of the observation before each turn "
        "(whitespace-normalised), for GiGPO step groups.",
    )


class ItemResult(BaseModel):
    id: str
    reward: float = Field(..., description="Weighted sum of the scores; a null score counts as 0.")
    scores: dict[str, float | None] = Field(
        ...,
        description="Each reward's score; a reward's sub-scores as `<reward>/<part>` (e.g. a multi "
        "grader's `openai_grader/name`), shown but not weighted.",
    )
    errors: dict[str, str] = Field(
        default_factory=dict,
        description="Why a score is null; also what "
        "went wrong in an item that still got a score (e.g. `code`: test 3 timed out).",
    )
    turns: TurnBreakdown | None = Field(None, description="Per-turn credit, when the request asks for it.")


class RewardResponse(BaseModel):
    results: list[ItemResult]
    elapsed_ms: float
    notes: list[str] = Field(default_factory=list, description="Batch-level remarks (e.g. length unit).")
    null_counts: dict[str, int] = Field(
        default_factory=dict,
        description="Scores of this batch that came back null, per error kind (`judge_unavailable`, "
        "`timeout`, ...): rows a trainer may want to keep out of its update.",
    )


class StreamSummary(BaseModel):
    """The last line of `POST /v1/rewards/stream`, under `summary`."""

    items: int = Field(..., description="Results sent.")
    elapsed_ms: float
    notes: list[str] = Field(default_factory=list)
    null_counts: dict[str, int] = Field(default_factory=dict)


class RewardInfo(BaseModel):
    name: str
    description: str
    requires: list[str] = Field(..., description="Item fields this reward needs.")
    requires_one_of: list[str] = Field(
        default_factory=list, description="Item fields at least one of which it needs (e.g. test data)."
    )
    params: dict[str, Any] = Field(..., description="JSON schema of its options.")
    group_reward: bool = False
    available: bool = True
    unavailable_reason: str | None = None
    info: dict[str, Any] = Field(default_factory=dict, description="Backend details (model, device, ...).")


class ProfileInfo(BaseModel):
    weights: dict[str, float]
    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Defaults; a request's `params` override them."
    )


class RewardCatalog(BaseModel):
    rewards: list[RewardInfo]
    profiles: dict[str, ProfileInfo]


class OpenRLHFRequest(BaseModel):
    """OpenRLHF's remote reward model protocol (`--reward.remote_url http://host:8000/get_reward`)."""

    model_config = ConfigDict(extra="allow")

    query: list[str] = Field(..., description="Prompt + response text, one per sample.")
    prompts: list[str] | None = None
    labels: list[str | None] | None = None

    @field_validator("labels", mode="before")
    @classmethod
    def _labels_as_text(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for v in value]
        return value

    @model_validator(mode="after")
    def _same_lengths(self) -> OpenRLHFRequest:
        for name in ("prompts", "labels"):
            values = getattr(self, name)
            if values is not None and len(values) != len(self.query):
                raise ValueError(f"`{name}` has {len(values)} entries but `query` has {len(self.query)}")
        return self


class OpenRLHFResponse(BaseModel):
    rewards: list[float] = Field(..., description="The weighted reward: what OpenRLHF optimises.")
    scores: list[float] = Field(
        ...,
        description="The primary component (the profile's first reward, e.g. `math` accuracy in 0..1; "
        "setting `openrlhf_score_reward`): what OpenRLHF's dynamic filtering averages per prompt group "
        "against its default range (0, 1), so groups that are all right or all wrong are dropped.",
    )
    extra_logs: dict[str, list[float]] = Field(..., description="Every component, a null as 0.0.")


class ExecuteRequest(BaseModel):
    """Run one program (`run`) or a batch (`runs`) in the sandbox."""

    model_config = ConfigDict(extra="forbid")

    run: RunRequest | None = None
    runs: list[RunRequest] | None = None
    backend: str | None = Field(
        None, description="`local` or `docker`; default: the server's `sandbox_backend`."
    )

    @model_validator(mode="after")
    def _one_or_many(self) -> ExecuteRequest:
        if (self.run is None) == (self.runs is None):
            raise ValueError("give exactly one of `run` (one program) or `runs` (a list)")
        return self

    @property
    def programs(self) -> list[RunRequest]:
        return [self.run] if self.run is not None else list(self.runs or [])


class ExecuteResponse(BaseModel):
    results: list[RunResult]
    backend: str
    elapsed_ms: float


class ToolCallRequest(BaseModel):
    """Run tool calls for a rollout loop: give the calls (`tool_calls`, OpenAI's shape, arguments a JSON
    string or an object) or the assistant `message` that makes them (structured or `<tool_call>` text)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "calculator", "arguments": '{"expression": "123456 * 789"}'},
                        }
                    ]
                }
            ]
        },
    )

    tool_calls: list[Any] | None = None
    message: Message | None = None
    format: Literal["openai", "hermes", "auto"] = Field(
        "auto", description="Where a `message`'s calls are read (as in the trajectory rewards)."
    )
    time_limit_s: float = Field(10.0, gt=0, le=60, description="Per `python` call.")
    memory_limit_mb: int = Field(512, ge=64, le=4096, description="Per `python` call.")
    backend: str | None = Field(None, description="Sandbox backend for `python`; default: the server's.")

    @model_validator(mode="after")
    def _calls_or_message(self) -> ToolCallRequest:
        if (self.tool_calls is None) == (self.message is None):
            raise ValueError("give exactly one of `tool_calls` or `message`")
        return self


class ToolMessage(BaseModel):
    role: Literal["tool"] = "tool"
    tool_call_id: str | None = Field(None, description="The call's `id` when it had one.")
    name: str | None = Field(None, description="The tool called (null when the call named none).")
    content: str = Field(..., description="The result, or `error: ...` for a call that could not run.")


class ToolCallResponse(BaseModel):
    messages: list[ToolMessage] = Field(..., description="One `tool` message per call, in order.")
    elapsed_ms: float


class Health(BaseModel):
    status: str
    version: str


class GraderRunRequest(BaseModel):
    """OpenAI's `POST /fine_tuning/alpha/graders/run`: grade one model sample."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "grader": {
                        "type": "string_check",
                        "name": "exact",
                        "input": "{{ sample.output_text }}",
                        "reference": "{{ item.answer }}",
                        "operation": "eq",
                    },
                    "model_sample": "Paris",
                    "item": {"answer": "Paris"},
                }
            ]
        },
    )

    grader: Grader
    model_sample: str = Field(
        ..., description="The model's output text; `sample.output_json` is filled when it is JSON."
    )
    item: dict[str, Any] = Field(default_factory=dict, description="The dataset row: `item` in templates.")


class GraderErrors(BaseModel):
    """OpenAI's error flags: which kind of failure made the reward 0."""

    formula_parse_error: bool = False
    invalid_variable_error: bool = False
    model_grader_parse_error: bool = False
    model_grader_refusal_error: bool = False
    model_grader_server_error: bool = False
    model_grader_server_error_details: str | None = None
    other_error: bool = False
    python_grader_runtime_error: bool = False
    python_grader_runtime_error_details: str | None = None
    python_grader_server_error: bool = False
    python_grader_server_error_type: str | None = None
    sample_parse_error: bool = False
    truncated_observation_error: bool = False
    unresponsive_reward_error: bool = False


class GraderMetadata(BaseModel):
    name: str
    type: str
    errors: GraderErrors
    execution_time: float = Field(..., description="Seconds.")
    scores: dict[str, Any] = Field(..., description="Sub-grader rewards, a model grader's label or steps.")
    token_usage: int | None = None
    sampled_model_name: str | None = None
    details: list[str] = Field(
        default_factory=list, description="Referee's addition: what each raised flag was about."
    )


class GraderRunResponse(BaseModel):
    reward: float
    metadata: GraderMetadata
    sub_rewards: dict[str, Any]
    model_grader_token_usage_per_model: dict[str, Any]


class GraderValidateRequest(BaseModel):
    """OpenAI's `POST /fine_tuning/alpha/graders/validate`: check a grader without running it."""

    model_config = ConfigDict(extra="forbid")

    grader: Grader


class GraderValidateResponse(BaseModel):
    grader: Grader


class SelectRequest(BaseModel):
    """Turn scored rollouts into training data (R1 rejection sampling, Kimi shortest-correct and
    long2short pairs)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "recipe": "shortest",
                    "where": {"math": 1.0},
                    "items": [
                        {
                            "group": "q1",
                            "prompt": "1+1?",
                            "completion": "<think>1+1=2</think> 2",
                            "scores": {"math": 1.0},
                        },
                        {
                            "group": "q1",
                            "prompt": "1+1?",
                            "completion": "<think>long...</think> 2",
                            "scores": {"math": 1.0},
                        },
                    ],
                }
            ]
        },
    )

    recipe: Recipe = Field(..., description="`rejection`, `shortest` or `pairs`.")
    where: dict[str, float] = Field(
        default_factory=dict,
        description="Minimum score per reward for an item to pass (a missing or null score fails), "
        'e.g. `{"math": 1.0, "language": 0.99, "repetition": -0.1}`.',
    )
    k: int = Field(1, ge=1, description="Items kept per group (`rejection`, `shortest`).")
    min_length_ratio: float = Field(
        1.5,
        ge=1.0,
        description="`pairs`: a passing rejected is at least this many times longer than the chosen.",
    )
    max_pairs: int = Field(1, ge=1, description="`pairs`: at most this many per group.")
    dedupe_threshold: float | None = Field(
        0.9,
        gt=0,
        le=1,
        description="Drop completions this similar (word-trigram Jaccard) to a kept one; null: keep all.",
    )
    seed: int = Field(0, description="Which of several equal rejected candidates a pair takes.")
    tokenizer: str | None = Field(
        None, description="Hugging Face tokenizer for lengths when items lack `completion_tokens`."
    )
    meta: bool = Field(False, description="Rows also carry the ids, scores and rewards they came from.")

    @field_validator("where")
    @classmethod
    def _finite(cls, where: dict[str, float]) -> dict[str, float]:
        bad = [name for name, value in where.items() if not math.isfinite(value)]
        if bad:
            raise ValueError(f"minimum scores must be finite numbers: {', '.join(bad)}")
        return where

    items: list[ScoredItem] = Field(
        ..., description="`/v1/rewards` items, each with its `scores` (and `reward`)."
    )


class SelectResponse(BaseModel):
    rows: list[dict[str, Any]] = Field(
        ..., description="TRL rows: `prompt`/`completion` (SFT) or `prompt`/`chosen`/`rejected` (DPO)."
    )
    summary: dict[str, Any] = Field(
        ..., description="Groups, rows, dropped items by rule, the length unit and the mean lengths."
    )


class JobRequest(RewardRequest):
    """A `/v1/rewards` body scored in the background: submit, poll, cancel."""

    priority: int = Field(
        0, description="Higher first: give evaluation jobs a lower priority than training's."
    )


class JobStatus(BaseModel):
    job_id: str
    status: Literal["queued", "running", "done", "cancelled"]
    run: str = Field(..., description="The request's `run` (`default` without one): runs take turns.")
    priority: int
    items: int
    scored: int = Field(..., description="Results so far.")
    results: list[ItemResult] = Field(
        ..., description="Results in the order they were scored, from the `since`-th on."
    )
    notes: list[str] = Field(default_factory=list)
    created: float = Field(..., description="Unix time of the submission.")
    finished: float | None = Field(None, description="Unix time it finished or was cancelled.")
