"""TRL's GRPOTrainer with Referee's rewards: two steps on CPU with a tiny local model.

    referee serve &
    python examples/trl_grpo.py                                    # a tiny random model, seconds
    python examples/trl_grpo.py --model Qwen/Qwen2.5-0.5B-Instruct --steps 200   # a real run (GPU)

Each Referee component becomes one TRL reward function (TRL logs `rewards/math/mean`, ...); all of a
batch's components come from one request. The dataset's `solution` column is sent as `answer`.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer

from clients.grpo.tiny import save_tiny_model
from clients.trl import referee_reward_funcs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="A Hugging Face model name or path; default: a tiny random model.")
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="referee-trl-"))
    model = args.model or str(save_tiny_model(workdir / "model"))
    dataset = Dataset.from_list(
        [{"prompt": f"What is {a}+{b}?", "solution": str(a + b)} for a in range(4) for b in range(4)]
    )
    reward_funcs, reward_weights = referee_reward_funcs(
        {"math": 1.0, "format": 0.5}, column_map={"solution": "answer"}
    )
    config = GRPOConfig(
        output_dir=str(workdir / "out"),
        max_steps=args.steps,
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=8 if args.model is None else 512,
        learning_rate=1e-4 if args.model is None else 1e-6,
        logging_steps=1,
        report_to=[],
        reward_weights=reward_weights,
        save_strategy="no",
        bf16=False,
    )
    trainer = GRPOTrainer(model=model, reward_funcs=reward_funcs, args=config, train_dataset=dataset)
    trainer.train()
    for entry in trainer.state.log_history:
        if "rewards/math/mean" in entry:
            print(
                f"step {entry['step']}: math {entry['rewards/math/mean']:.3f}, "
                f"format {entry['rewards/format/mean']:.3f}"
            )


if __name__ == "__main__":
    main()
