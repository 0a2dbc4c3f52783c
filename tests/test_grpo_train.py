"""The bundled trainer end to end: 3 steps against a real server, then resume from the checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from clients.grpo.config import TrainConfig
from clients.grpo.trainer import CHECKPOINT, GRPOTrainer


def config(tmp_path: Path, url: str, steps: int) -> TrainConfig:
    return TrainConfig(
        model="tiny",
        output_dir=tmp_path / "run",
        referee_url=url,
        steps=steps,
        prompts_per_step=2,
        group_size=4,
        max_new_tokens=8,
        rewards={"math": 1.0, "format": 0.5},
        params={"format": {"answer_tag": "answer"}},
        learning_rate=1e-3,
        beta=0.04,
        inner_updates=2,
        grad_accumulation=2,
        plot_every=1,
        checkpoint_every=3,
        seed=1,
    )


def test_three_steps_then_resume(live_server: str, tmp_path: Path) -> None:
    trainer = GRPOTrainer(config(tmp_path, live_server, steps=3))
    history = trainer.train()
    run = tmp_path / "run"
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in lines] == [0, 1, 2] == [row["step"] for row in history]
    for key in (
        "reward_mean",
        "reward_std",
        "reward/math",
        "reward/format",
        "kl",
        "clip_fraction",
        "completion_length",
        "time/generation_s",
        "time/scoring_wait_s",
        "loss",
    ):
        assert key in lines[0], key
    assert lines[-1]["kl"] > 0  # beta > 0 and two inner updates moved the policy away from the reference
    assert (run / "reward_curve.png").stat().st_size > 1000
    assert (run / CHECKPOINT / "trainer_state.json").exists()
    saved_weights = {k: v.clone() for k, v in trainer.model.state_dict().items()}

    resumed = GRPOTrainer(config(tmp_path, live_server, steps=5))
    assert resumed.step == 3
    assert resumed.optimizer.state_dict()["state"]  # AdamW moments came back
    assert all(torch.equal(saved_weights[k], v) for k, v in resumed.model.state_dict().items())
    resumed.train()
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in lines] == [0, 1, 2, 3, 4]
