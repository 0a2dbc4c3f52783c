"""The bundled GRPO trainer against TRL's GRPOTrainer: the same warmed-up start, the same training
prompts, the same rewards (TRL's through Referee's TRL adapter), the same settings (G, prompts per step,
ε, β = 0, token-level loss, a constant learning rate, temperature, completion length).

    python -m bench.grpo_vs_trl [--config examples/demo.toml] [--steps 100] [--url URL]

Both are evaluated by the bundled trainer's own evaluation (greedy, the held-out problems, scored by
Referee) before and after; prints accuracy and wall time for each, and their ratios.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from pathlib import Path

from bench.grpo_generation import arguments, warmed_up
from clients.grpo.config import TrainConfig
from clients.grpo.trainer import GRPOTrainer
from clients.trl import referee_reward_funcs
from tests.server_utils import server_process


def bundled(config: TrainConfig) -> tuple[float, float]:
    trainer = GRPOTrainer(config.model_copy(update={"eval_every": 0, "plot_every": 10**6}))
    started = time.perf_counter()
    trainer.train()
    elapsed = time.perf_counter() - started
    return trainer.evaluate()["eval/accuracy"], elapsed


def trl_trainer(config: TrainConfig, url: str, output: Path) -> tuple[float, float]:
    import datasets
    import trl

    evaluator = GRPOTrainer(config)  # the same problems, split and evaluation
    reward_funcs, weights = referee_reward_funcs(config.rewards, params=config.params, base_url=url)
    dataset = datasets.Dataset.from_list(
        [{"prompt": p.prompt, "answer": p.answer} for p in evaluator.problems]
    )
    arguments = trl.GRPOConfig(
        output_dir=str(output),
        max_steps=config.steps,
        per_device_train_batch_size=config.prompts_per_step * config.group_size,
        num_generations=config.group_size,
        max_completion_length=config.max_new_tokens,
        temperature=config.temperature,
        learning_rate=config.learning_rate,
        lr_scheduler_type="constant",
        epsilon=config.epsilon,
        beta=config.beta,
        loss_type="dapo",
        max_grad_norm=config.max_grad_norm,
        reward_weights=weights,
        use_cpu=config.device in ("auto", "cpu") and not _cuda(),
        bf16=False,
        report_to=[],
        save_strategy="no",
        logging_steps=10,
        seed=config.seed,
        disable_dropout=True,
    )
    trainer = trl.GRPOTrainer(
        model=config.model, reward_funcs=reward_funcs, args=arguments, train_dataset=dataset
    )
    started = time.perf_counter()
    trainer.train()
    elapsed = time.perf_counter() - started
    evaluator.model = trainer.model
    return evaluator.evaluate()["eval/accuracy"], elapsed


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def main() -> None:
    args = arguments(100, __doc__)
    scratch = Path(tempfile.mkdtemp(prefix="referee-bench-"))
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(server_process())[0]
        warm, warming, start = warmed_up(args.config, url, scratch)
        start_accuracy = warming.evaluate()["eval/accuracy"]
        config = warm.model_copy(
            update={
                "model": str(start),
                "sft_warmup_steps": 0,
                "steps": args.steps,
                "output_dir": scratch / "bundled",
            }
        )
        ours, ours_time = bundled(config)
        theirs, theirs_time = trl_trainer(
            config.model_copy(update={"output_dir": scratch / "trl"}), url, scratch / "trl"
        )
    print(json.dumps({"start": start_accuracy, "bundled": [ours, ours_time], "trl": [theirs, theirs_time]}))
    print(
        f"{args.steps} GRPO steps of {config.prompts_per_step} prompts x {config.group_size}, lr "
        f"{config.learning_rate} constant, from held-out accuracy {start_accuracy:.3f}:\n"
        f"  bundled trainer: {ours:.3f} in {ours_time:.0f} s\n"
        f"  TRL GRPOTrainer: {theirs:.3f} in {theirs_time:.0f} s\n"
        f"  bundled / TRL: accuracy {ours / max(theirs, 1e-9):.2f}x, wall time {ours_time / theirs_time:.2f}x"
    )


if __name__ == "__main__":
    main()
