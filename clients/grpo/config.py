"""Training configuration, loaded from TOML (`referee train --config CONFIG.toml`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from clients.grpo.tasks import TASKS

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        ..., description="Hugging Face causal LM: a local path, or `tiny` to build a small one."
    )
    tiny_hidden_size: int = Field(64, ge=8, description='Width of the model built for `model = "tiny"`.')
    reference_model: str | None = Field(
        None, description="For the KL term; default: where GRPO starts (the policy after the warm-up)."
    )
    output_dir: Path = Path("runs/grpo")
    resume: bool = Field(True, description="Continue from output_dir/checkpoint if it exists.")

    referee_url: str | None = Field(None, description="Default: $REFEREE_URL or http://127.0.0.1:8000.")
    api_key: str | None = None
    rewards: dict[str, float] | None = Field(None, description="Reward name -> weight, or give `profile`.")
    profile: str | None = None
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)

    task: str | None = Field(
        "two_digit_addition",
        description=f"Built-in synthetic task: {', '.join(f'`{name}`' for name in TASKS)}.",
    )
    dataset: Path | None = Field(
        None,
        description="JSONL of {prompt, answer, [difficulty], [reference], ...} instead of `task`; "
        "`reference` (a correct completion) is what the supervised warm-up trains on.",
    )
    eval_dataset: Path | None = Field(
        None, description="JSONL like `dataset` to evaluate on; default: hold out `eval_size` problems."
    )
    eval_size: int = Field(
        100, ge=0, description="Problems held out of training for evaluation (without `eval_dataset`)."
    )
    eval_every: int = Field(
        25,
        ge=0,
        description="Greedy evaluation on the held-out problems at step 0 and every N steps; 0: off.",
    )
    accuracy_reward: str | None = Field(
        None,
        description="The reward that counts as correct at ≥ 1 (eval/accuracy, prioritized sampling); "
        "default: the first of `rewards`, else `math`.",
    )

    steps: int = Field(100, ge=1)
    prompts_per_step: int = Field(4, ge=1)
    group_size: int = Field(8, ge=2, description="G: completions per prompt.")
    max_new_tokens: int = Field(32, ge=1)
    max_turns: int = Field(
        1,
        ge=1,
        description="Assistant turns per trajectory. Above 1, the multi-turn mode: a turn's tool calls run "
        "through Referee's `/v1/tools/call`, their results are appended (and kept out of the loss), and "
        "the policy goes on until it answers, stops calling or reaches `max_turns`.",
    )
    generation_batch: int = Field(
        16,
        ge=1,
        description="Prompts per `generate` call; each call's groups are scored while the next one "
        "generates. 1: one call per prompt.",
    )
    temperature: float = Field(1.0, gt=0)
    learning_rate: float = Field(1e-5, gt=0)
    weight_decay: float = 0.0
    epsilon: float = Field(0.2, gt=0, description="Clip range ε (the lower one with `epsilon_high`).")
    epsilon_high: float | None = Field(None, description="DAPO clip-higher upper ε (e.g. 0.28).")
    beta: float = Field(
        0.0, ge=0, description="Weight of the k3 KL to the reference; 0 skips the reference model."
    )
    inner_updates: int = Field(1, ge=1, description="μ: optimisation passes over each batch of rollouts.")
    grad_accumulation: int = Field(1, ge=1, description="Micro-batches per optimiser step.")
    scale_rewards: bool = Field(True, description="Divide advantages by the group std (False = Dr. GRPO).")
    loss_aggregation: Literal["token", "sequence"] = Field(
        "token",
        description="`token`: mean over all tokens of the batch (DAPO); `sequence`: per sequence, "
        "then mean (GRPO).",
    )
    max_grad_norm: float = 1.0

    sampling: Literal["uniform", "prioritized", "curriculum"] = "uniform"
    curriculum_steps: int = Field(
        100, ge=1, description="Steps until the curriculum includes the hardest prompts."
    )

    sft_warmup_steps: int = Field(
        0, ge=0, description="Supervised steps on the task's reference answers first."
    )
    sft_learning_rate: float = 3e-3
    sft_batch_size: int = Field(16, ge=1)

    plot_every: int = Field(10, ge=1)
    checkpoint_every: int = Field(50, ge=1)
    seed: int = 0
    device: str = Field("auto", description="`auto`: cuda when available, else cpu.")

    @model_validator(mode="after")
    def _one_source(self) -> TrainConfig:
        if (self.rewards is None) == (self.profile is None):
            raise ValueError("give exactly one of `rewards` or `profile`")
        if self.dataset is None and self.task is None:
            raise ValueError("give a `task` or a `dataset`")
        if self.dataset is None and self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; built-in tasks: {', '.join(TASKS)}")
        return self

    @property
    def correctness_reward(self) -> str:
        return self.accuracy_reward or next(iter(self.rewards or {"math": 1.0}))


def load_config(path: str | Path, **overrides: Any) -> TrainConfig:
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    data.update({key: value for key, value in overrides.items() if value is not None})
    return TrainConfig.model_validate(data)
