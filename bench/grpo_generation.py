"""The bundled trainer's GRPO step: one `generate` call per prompt (the old loop) vs batched
generation (`generation_batch` prompts per call), from the same warmed-up start.

    python -m bench.grpo_generation [--config examples/demo.toml] [--steps 20] [--url URL]

Without --url it starts `referee serve` on a free localhost port. Prints the mean step time (rollouts,
scoring and the update; evaluation excluded) of each, the ratio, and the held-out accuracy after the
steps (with `--steps 300`, the whole demo: the learning curves must match within seed noise).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from pathlib import Path

from clients.grpo.config import TrainConfig, load_config
from clients.grpo.trainer import WARMED_UP, GRPOTrainer
from tests.server_utils import server_process


def run(config_path: str, url: str, start: Path, output: Path, steps: int, generation_batch: int) -> dict:
    config = load_config(
        config_path,
        model=str(start),
        referee_url=url,
        output_dir=str(output),
        resume=False,
        sft_warmup_steps=0,
        steps=steps,
        eval_every=steps,
        generation_batch=generation_batch,
        plot_every=10**6,
        checkpoint_every=10**6,
    )
    trainer = GRPOTrainer(config)
    started = time.perf_counter()
    history = trainer.train()
    total = time.perf_counter() - started
    rows = [row for row in history if "reward_mean" in row]
    evaluation = [row for row in history if "eval/accuracy" in row]
    eval_time = total - sum(row["time/step_s"] for row in rows)
    return {
        "step_s": sum(row["time/step_s"] for row in rows) / len(rows),
        "generation_s": sum(row["time/generation_s"] for row in rows) / len(rows),
        "eval_start": evaluation[0]["eval/accuracy"],
        "eval_end": evaluation[-1]["eval/accuracy"],
        "eval_s": eval_time,
    }


def arguments(steps: int, doc: str | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--config", default="examples/demo.toml")
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--url", default=None)
    return parser.parse_args()


def warmed_up(config_path: str, url: str, scratch: Path) -> tuple[TrainConfig, GRPOTrainer, Path]:
    """The config's supervised warm-up, once: the start every compared run trains from."""
    config = load_config(config_path, referee_url=url, output_dir=str(scratch / "warm-up"), resume=False)
    trainer = GRPOTrainer(config)
    trainer.warm_up()
    return config, trainer, scratch / "warm-up" / WARMED_UP


def main() -> None:
    args = arguments(20, __doc__)
    scratch = Path(tempfile.mkdtemp(prefix="referee-bench-"))
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(server_process())[0]
        warm, _, start = warmed_up(args.config, url, scratch)
        results = {}
        for name, batch in (("one call per prompt", 1), ("batched", warm.generation_batch)):
            results[name] = run(args.config, url, start, scratch / f"batch-{batch}", args.steps, batch)
            print(name, json.dumps({k: round(v, 3) for k, v in results[name].items()}), flush=True)
    old, new = results["one call per prompt"], results["batched"]
    print(
        f"{warm.prompts_per_step} prompts x {warm.group_size} per step, {args.steps} steps: "
        f"step {old['step_s']:.2f} s -> {new['step_s']:.2f} s ({old['step_s'] / new['step_s']:.1f}x faster), "
        f"generation {old['generation_s']:.2f} s -> {new['generation_s']:.2f} s "
        f"({old['generation_s'] / new['generation_s']:.1f}x); held-out accuracy "
        f"{old['eval_start']:.3f} -> {old['eval_end']:.3f} (per prompt) vs "
        f"{new['eval_start']:.3f} -> {new['eval_end']:.3f} (batched)"
    )


if __name__ == "__main__":
    main()
