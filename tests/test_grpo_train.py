"""The bundled trainer end to end: 3 steps against a real server, then resume from the checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from clients.grpo.config import TrainConfig
from clients.grpo.trainer import CHECKPOINT, WARMED_UP, GRPOTrainer


def config(tmp_path: Path, url: str, steps: int) -> TrainConfig:
    return TrainConfig(
        model="tiny",
        output_dir=tmp_path / "run",
        referee_url=url,
        steps=steps,
        prompts_per_step=2,
        group_size=4,
        max_new_tokens=24,
        rewards={"math": 1.0, "format": 0.5},
        params={"format": {"answer_tag": "answer"}},
        learning_rate=1e-3,
        beta=0.04,
        inner_updates=2,
        grad_accumulation=2,
        task="addition",
        sft_warmup_steps=100,  # enough for some reward, so advantages are not all 0
        eval_size=8,
        eval_every=2,
        plot_every=1,
        checkpoint_every=3,
        seed=1,
    )


def test_three_steps_then_resume(live_server: str, tmp_path: Path) -> None:
    trainer = GRPOTrainer(config(tmp_path, live_server, steps=3))
    history = trainer.train()
    run = tmp_path / "run"
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    # training rows for steps 0-2, evaluations at 0 and 2 (before those updates) and after the last
    assert [row["step"] for row in lines] == [0, 1, 2, 3] == [row["step"] for row in history]
    assert [row["step"] for row in lines if "eval/accuracy" in row] == [0, 2, 3]
    assert "reward_mean" not in lines[3]
    for row in lines[:3]:
        assert row["entropy"] > 0
        assert 0 <= row["accuracy"] <= 1
    for row in (lines[0], lines[2], lines[3]):
        assert 0 <= row["eval/accuracy"] <= 1 and row["eval/completion_length"] > 0
        assert row["eval/reward"] <= 1.5
    for key in (
        "reward_mean",
        "reward_std",
        "reward/math",
        "reward/format",
        "kl",
        "clip_fraction",
        "completion_length",
        "completion_length_correct",
        "entropy",
        "time/generation_s",
        "time/scoring_wait_s",
        "loss",
    ):
        assert key in lines[0], key
    assert lines[2]["kl"] > 0  # beta > 0 and two inner updates moved the policy away from the reference
    assert (run / "reward_curve.png").stat().st_size > 1000
    # the KL reference is where GRPO started: the policy after the warm-up, saved for a resumed run
    warmed = AutoModelForCausalLM.from_pretrained(run / WARMED_UP).state_dict()
    assert trainer.reference is not None
    assert all(torch.equal(warmed[k], v) for k, v in trainer.reference.state_dict().items())
    assert (run / CHECKPOINT / "trainer_state.json").exists()
    saved_weights = {k: v.clone() for k, v in trainer.model.state_dict().items()}

    resumed = GRPOTrainer(config(tmp_path, live_server, steps=5))
    assert resumed.step == 3
    assert resumed.optimizer.state_dict()["state"]  # AdamW moments came back
    assert all(torch.equal(saved_weights[k], v) for k, v in resumed.model.state_dict().items())
    resumed.train()
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in lines] == [0, 1, 2, 3, 3, 4, 5]
    assert [row["step"] for row in lines if "eval/accuracy" in row] == [0, 2, 3, 4, 5]
