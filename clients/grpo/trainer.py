"""The GRPO loop: sample prompts, generate G completions each, score every group with Referee while
the next group generates, then clipped-surrogate updates with group-normalised advantages."""

from __future__ import annotations

import json
import random
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from clients.client import RefereeClient, RewardResponse
from clients.grpo.config import TrainConfig
from clients.grpo.losses import clipped_loss, group_advantages
from clients.grpo.plotting import plot_rewards
from clients.grpo.rollout import generate_group, pack, token_logprobs
from clients.grpo.sampling import PromptSampler
from clients.grpo.tasks import Problem, load_problems
from clients.grpo.tiny import save_tiny_model

CHECKPOINT = "checkpoint"


def pick_device(setting: str) -> torch.device:
    if setting != "auto":
        return torch.device(setting)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick_dtype(device: torch.device) -> torch.dtype:
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def policy_logprobs(model: torch.nn.Module, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """Log-probs of the policy with dropout off, for the old policy and the update alike (as TRL), so
    the ratio starts at exactly 1; gradients flow in eval mode all the same."""
    model.eval()
    return token_logprobs(model, ids, attention)


class GRPOTrainer:
    def __init__(self, config: TrainConfig, client: RefereeClient | None = None) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.config = config
        self.output = Path(config.output_dir)
        self.output.mkdir(parents=True, exist_ok=True)
        self._seed(config.seed)
        self.device = pick_device(config.device)
        checkpoint = self.output / CHECKPOINT
        resuming = config.resume and (checkpoint / "trainer_state.json").exists()
        source = str(checkpoint) if resuming else self._model_path(config.model)
        self.tokenizer = AutoTokenizer.from_pretrained(source)
        self.tokenizer.padding_side = "left"
        self.model = AutoModelForCausalLM.from_pretrained(source, dtype=pick_dtype(self.device)).to(
            self.device
        )
        self.reference = None
        if config.beta > 0:
            reference_source = config.reference_model or self._model_path(config.model)
            self.reference = (
                AutoModelForCausalLM.from_pretrained(reference_source, dtype=pick_dtype(self.device))
                .to(self.device)
                .eval()
                .requires_grad_(False)
            )
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        )
        self.problems: list[Problem] = load_problems(config.task, config.dataset)
        self.sampler = PromptSampler(
            len(self.problems),
            config.sampling,
            [p.difficulty for p in self.problems],
            config.curriculum_steps,
            config.seed,
        )
        self.client = client or RefereeClient(config.referee_url, api_key=config.api_key)
        self.metrics_file = self.output / "metrics.jsonl"
        self.step = 0
        if resuming:
            self._load_state(checkpoint)
        elif self.metrics_file.exists():
            self.metrics_file.unlink()

    # Setup --------------------------------------------------------------------------------------

    def _model_path(self, model: str) -> str:
        if model != "tiny":
            return model
        path = self.output / "initial-model"
        if not (path / "config.json").exists():
            save_tiny_model(path, hidden_size=self.config.tiny_hidden_size, seed=self.config.seed)
        return str(path)

    @staticmethod
    def _seed(seed: int) -> None:
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)

    # Supervised warm-up (optional) ------------------------------------------------------------

    def warm_up(self) -> None:
        """A few supervised steps on reference completions, so the policy starts with the format."""
        examples = [p for p in self.problems if p.reference]
        if not examples or self.config.sft_warmup_steps == 0 or self.step > 0:
            return
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.config.sft_learning_rate)
        self.model.train()
        for _ in tqdm(range(self.config.sft_warmup_steps), desc="warm-up", leave=False):
            batch = random.sample(examples, min(16, len(examples)))
            prompts = [self.tokenizer(p.prompt, add_special_tokens=False)["input_ids"] for p in batch]
            targets = [
                self.tokenizer(p.reference, add_special_tokens=False)["input_ids"]
                + [self.tokenizer.eos_token_id]
                for p in batch
            ]
            ids, attention, mask = pack(
                [torch.tensor(p) for p in prompts],
                [torch.tensor(t) for t in targets],
                self.tokenizer.pad_token_id,
            )
            ids, attention, mask = ids.to(self.device), attention.to(self.device), mask.to(self.device)
            logp = token_logprobs(self.model, ids, attention)
            loss = -(logp * mask[:, 1:]).sum() / mask[:, 1:].sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    # One GRPO step ------------------------------------------------------------------------------

    def _score(self, problem: Problem, texts: list[str], lengths: list[int], group: str) -> RewardResponse:
        items = [
            {
                "id": f"{group}-{i}",
                "group": group,
                "prompt": problem.prompt,
                "completion": text,
                "answer": problem.answer,
                "completion_tokens": length,
                **problem.extra,
            }
            for i, (text, length) in enumerate(zip(texts, lengths, strict=True))
        ]
        return self.client.score(
            items, rewards=self.config.rewards, profile=self.config.profile, params=self.config.params
        )

    def rollouts(
        self, indices: list[int], scorer: ThreadPoolExecutor
    ) -> tuple[list[dict[str, Any]], float, float]:
        """Generate each group and send it to Referee at once; scoring overlaps the next generation."""
        self.model.eval()
        groups, generation_time = [], 0.0
        futures: list[Future[RewardResponse]] = []
        for index in indices:
            problem = self.problems[index]
            started = time.perf_counter()
            prompt_ids, completions, texts = generate_group(
                self.model,
                self.tokenizer,
                problem.prompt,
                self.config.group_size,
                self.config.max_new_tokens,
                self.config.temperature,
            )
            generation_time += time.perf_counter() - started
            futures.append(
                scorer.submit(
                    self._score, problem, texts, [len(c) for c in completions], f"{self.step}-{index}"
                )
            )
            groups.append(
                {"index": index, "prompt_ids": prompt_ids, "completions": completions, "texts": texts}
            )
        waited = time.perf_counter()
        for group, future in zip(groups, futures, strict=True):
            group["response"] = future.result()
        return groups, generation_time, time.perf_counter() - waited

    def train_step(self, scorer: ThreadPoolExecutor) -> dict[str, Any]:
        config = self.config
        indices = self.sampler.sample(config.prompts_per_step, self.step)
        groups, generation_time, scoring_wait = self.rollouts(indices, scorer)

        rewards = torch.tensor([g["response"].rewards for g in groups], dtype=torch.float32)
        advantages = group_advantages(rewards, scale=config.scale_rewards).flatten()
        prompt_ids = [g["prompt_ids"] for g in groups for _ in g["completions"]]
        completions = [c for g in groups for c in g["completions"]]
        ids, attention, mask = pack(prompt_ids, completions, self.tokenizer.pad_token_id)
        ids, attention, mask = ids.to(self.device), attention.to(self.device), mask[:, 1:].to(self.device)
        advantages = advantages.to(self.device)
        with torch.no_grad():
            old_logp = policy_logprobs(self.model, ids, attention)
            ref_logp = token_logprobs(self.reference, ids, attention) if self.reference is not None else None

        stats: dict[str, list[float]] = {"loss": [], "clip_fraction": [], "kl": []}
        micro_batches = torch.arange(len(completions)).chunk(config.grad_accumulation)
        total = (
            float(mask.sum().clamp(min=1)) if config.loss_aggregation == "token" else float(len(completions))
        )
        for _ in range(config.inner_updates):
            self.optimizer.zero_grad()
            for rows in micro_batches:
                logp = policy_logprobs(self.model, ids[rows], attention[rows])
                loss, step_stats = clipped_loss(
                    logp,
                    old_logp[rows],
                    advantages[rows],
                    mask[rows],
                    config.epsilon,
                    config.epsilon_high,
                    config.beta,
                    ref_logp[rows] if ref_logp is not None else None,
                    config.loss_aggregation,
                    total,
                )
                loss.backward()  # the micro-batch losses add up to the batch loss (`total`)
                for key, value in step_stats.items():
                    stats[key].append(value)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.max_grad_norm)
            self.optimizer.step()

        for group in groups:
            correct = group["response"].component(next(iter(config.rewards or {"math": 1})))
            self.sampler.update(
                group["index"], float(np.mean([1.0 if (v or 0) >= 1 else 0.0 for v in correct]))
            )
        return self._metrics(groups, rewards, completions, stats, generation_time, scoring_wait)

    def _metrics(
        self,
        groups: list[dict[str, Any]],
        rewards: torch.Tensor,
        completions: list[torch.Tensor],
        stats: dict[str, list[float]],
        generation_time: float,
        scoring_wait: float,
    ) -> dict[str, Any]:
        row: dict[str, Any] = {
            "step": self.step,
            "reward_mean": float(rewards.mean()),
            "reward_std": float(rewards.std()),
        }
        names = {name for g in groups for r in g["response"].results for name in r.scores}
        for name in sorted(names):
            values = [r.scores.get(name) for g in groups for r in g["response"].results]
            scored = [v for v in values if v is not None]
            row[f"reward/{name}"] = float(np.mean(scored)) if scored else None
            row[f"reward_std/{name}"] = float(np.std(scored)) if scored else None
            row[f"null/{name}"] = len(values) - len(scored)
        row.update({key: float(np.mean(values)) for key, values in stats.items()})
        row["completion_length"] = float(np.mean([len(c) for c in completions]))
        row["time/generation_s"] = round(generation_time, 3)
        row["time/scoring_wait_s"] = round(scoring_wait, 3)
        row["sample"] = groups[0]["texts"][0]
        return row

    # The loop -----------------------------------------------------------------------------------

    def train(self) -> list[dict[str, Any]]:
        self.warm_up()
        history = []
        with (
            ThreadPoolExecutor(max_workers=4) as scorer,
            tqdm(total=self.config.steps, initial=self.step, desc="GRPO", unit="step") as progress,
        ):
            while self.step < self.config.steps:
                row = self.train_step(scorer)
                with self.metrics_file.open("a") as out:
                    out.write(json.dumps(row) + "\n")
                history.append(row)
                self.step += 1
                progress.update(1)
                progress.set_postfix(reward=f"{row['reward_mean']:.3f}", kl=f"{row['kl']:.4f}")
                if self.step % self.config.plot_every == 0 or self.step == self.config.steps:
                    plot_rewards(self.metrics_file, self.output / "reward_curve.png")
                if self.step % self.config.checkpoint_every == 0 or self.step == self.config.steps:
                    self.save(self.output / CHECKPOINT)
        return history

    # Checkpoints --------------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Model, tokenizer, optimizer, sampler, step and RNG states: enough to resume exactly."""
        partial = directory.with_name(directory.name + ".partial")
        partial.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(partial)
        self.tokenizer.save_pretrained(partial)
        torch.save(
            {
                "optimizer": self.optimizer.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "numpy_rng": np.random.get_state(),
                "python_rng": random.getstate(),
            },
            partial / "optimizer.pt",
        )
        (partial / "trainer_state.json").write_text(
            json.dumps({"step": self.step, "sampler": self.sampler.state_dict()})
        )
        if directory.exists():
            old = directory.with_name(directory.name + ".old")
            directory.rename(old)
            partial.rename(directory)
            shutil.rmtree(old)
        else:
            partial.rename(directory)

    def _load_state(self, directory: Path) -> None:
        state = json.loads((directory / "trainer_state.json").read_text())
        self.step = state["step"]
        self.sampler.load_state_dict(state["sampler"])
        saved = torch.load(directory / "optimizer.pt", weights_only=False)
        self.optimizer.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["torch_rng"])
        np.random.set_state(saved["numpy_rng"])
        random.setstate(saved["python_rng"])
