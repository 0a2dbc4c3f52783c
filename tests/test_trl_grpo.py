"""TRL's real GRPOTrainer, 2 steps on CPU, with a tiny local model and Referee rewards over HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from clients.grpo.tiny import save_tiny_model
from clients.trl import referee_reward_funcs


def scoring_requests(url: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        if line.startswith("referee_batch_items_count"):
            return float(line.split()[-1])
    return 0.0


@pytest.mark.slow
def test_grpo_trainer_two_steps_with_referee_rewards(live_server: str, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    trl = pytest.importorskip("trl")
    model_dir = save_tiny_model(tmp_path / "model")
    dataset = datasets.Dataset.from_list(
        [{"prompt": f"What is {a}+{b}?", "solution": str(a + b)} for a in range(4) for b in range(4)]
    )
    reward_funcs, weights = referee_reward_funcs(
        {"math": 1.0, "format": 0.5}, base_url=live_server, column_map={"solution": "answer"}
    )
    before = scoring_requests(live_server)
    config = trl.GRPOConfig(
        output_dir=str(tmp_path / "out"),
        max_steps=2,
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=8,
        learning_rate=1e-4,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        reward_weights=weights,
        save_strategy="no",
        seed=0,
        bf16=False,
    )
    trainer = trl.GRPOTrainer(
        model=str(model_dir), reward_funcs=reward_funcs, args=config, train_dataset=dataset
    )
    trainer.train()
    logged = [entry for entry in trainer.state.log_history if "rewards/math/mean" in entry]
    assert len(logged) == 2
    assert all("rewards/format/mean" in entry for entry in logged)
    assert scoring_requests(live_server) - before == 2  # one request per step, shared by both components
