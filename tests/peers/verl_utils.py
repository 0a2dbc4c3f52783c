"""Build what verl's rollout hands its reward managers, for the verl peer tests and bench."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import verl.trainer.config
from hydra import compose, initialize_config_dir
from transformers import AutoTokenizer
from verl import DataProto


def make_dataproto(
    tokenizer_dir: str,
    prompts: Sequence[str],
    responses: Sequence[str],
    golds: Sequence[Any],
    group_size: int,
) -> DataProto:
    """Left-padded prompts, right-padded responses + EOS, and the non-tensor columns verl's data
    preparation writes (`extra_info` with `index` and `question`, numpy values included)."""
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    prompt_ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    response_ids = [
        tokenizer(r, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for r in responses
    ]
    width_p, width_r = max(map(len, prompt_ids)), max(map(len, response_ids)) + 3
    pad = tokenizer.pad_token_id
    p_tensor = torch.tensor([[pad] * (width_p - len(ids)) + ids for ids in prompt_ids])
    r_tensor = torch.tensor([ids + [pad] * (width_r - len(ids)) for ids in response_ids])
    mask = torch.tensor(
        [
            [0] * (width_p - len(p)) + [1] * (len(p) + len(r)) + [0] * (width_r - len(r))
            for p, r in zip(prompt_ids, response_ids, strict=True)
        ]
    )
    infos = [
        {
            "split": "train",
            "index": np.int64(i // group_size),
            "question": prompts[i],
            "answer": str(golds[i]),
        }
        for i in range(len(responses))
    ]
    return DataProto.from_dict(
        tensors={
            "prompts": p_tensor,
            "responses": r_tensor,
            "input_ids": torch.cat([p_tensor, r_tensor], 1),
            "attention_mask": mask,
        },
        non_tensors={
            "data_source": np.array(["openai/gsm8k"] * len(responses), dtype=object),
            "reward_model": np.array([{"style": "rule", "ground_truth": g} for g in golds], dtype=object),
            "extra_info": np.array(infos, dtype=object),
            "uid": np.array([f"uid-{i // group_size}" for i in range(len(responses))], dtype=object),
        },
    )


def verl_config(tokenizer_dir: str, *overrides: str) -> Any:
    """verl's own `ppo_trainer` config, composed with hydra as `main_ppo` does."""
    with initialize_config_dir(config_dir=os.path.dirname(verl.trainer.config.__file__), version_base=None):
        return compose(
            config_name="ppo_trainer",
            overrides=[*overrides, f"actor_rollout_ref.model.path={tokenizer_dir}", "reward.num_workers=1"],
        )


def readme_overrides(name: str, path: str = "pkg://clients.verl", manager: str = "naive") -> list[str]:
    """The reward keys of the README's verl command."""
    return [
        f"reward.custom_reward_function.path={path}",
        f"reward.custom_reward_function.name={name}",
        f"reward.reward_manager.name={manager}",
    ]
