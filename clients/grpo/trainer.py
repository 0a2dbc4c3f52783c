"""The GRPO loop: sample prompts, generate G completions each, score every group with Referee while
the next group generates, then clipped-surrogate updates with group-normalised advantages."""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from tqdm import tqdm

from clients.client import ItemResult, RefereeClient, RewardResponse
from clients.grpo.agent import agent_groups, tool_result_ids
from clients.grpo.config import TrainConfig
from clients.grpo.losses import clipped_loss, group_advantages
from clients.grpo.plotting import plot_rewards
from clients.grpo.rollout import (
    Group,
    gather_logprobs,
    generate_groups,
    pack,
    token_entropy,
    token_logits,
    token_logprobs,
)
from clients.grpo.sampling import PromptSampler
from clients.grpo.tasks import Problem, load_problems
from clients.grpo.tiny import save_tiny_model

CHECKPOINT = "checkpoint"
WARMED_UP = "warmed-up"  # the policy after the supervised warm-up: GRPO's start and KL reference


def pick_device(setting: str) -> torch.device:
    if setting != "auto":
        return torch.device(setting)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick_dtype(device: torch.device) -> torch.dtype:
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def policy_logits(
    model: torch.nn.Module, ids: torch.Tensor, attention: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """Logits of the policy with dropout off, for the old policy and the update alike (as TRL), so
    the ratio starts at exactly 1; gradients flow in eval mode all the same."""
    model.eval()
    return token_logits(model, ids, attention, temperature)


def ran_a_tool(messages: list[dict[str, Any]]) -> bool:
    """Whether a trajectory made a call Referee could run (a tool result that is not an error)."""
    return any(m["role"] == "tool" and not str(m.get("content", "")).startswith("error:") for m in messages)


def mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


@dataclass
class ScoredGroup:
    """A training prompt's group: which problem, what was generated, and Referee's verdicts."""

    index: int
    rollout: Group
    results: list[ItemResult]

    @property
    def rewards(self) -> list[float]:
        return [result.reward for result in self.results]


T = TypeVar("T")


def chunks(values: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


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
        self.reference: torch.nn.Module | None = None  # loaded after the warm-up: see `load_reference`
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        )
        self.problems, self.eval_problems = load_problems(
            config.task, config.dataset, config.eval_dataset, config.eval_size
        )
        self.sampler = PromptSampler(
            len(self.problems),
            config.sampling,
            [p.difficulty for p in self.problems],
            config.curriculum_steps,
            config.seed,
        )
        # The reward inspector files the run's batches under its output directory's name.
        self.client = client or RefereeClient(
            config.referee_url, api_key=config.api_key, run=config.output_dir.name
        )
        # multi-turn: the tools Referee runs, offered to the policy and checked by tool_call_validity
        self.tools = self.client.tools() if config.max_turns > 1 else None
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

    def load_reference(self) -> None:
        """The frozen model of the KL term: `reference_model`, else where GRPO starts, i.e. the policy
        after the supervised warm-up (saved, so a resumed run keeps the same reference)."""
        from transformers import AutoModelForCausalLM

        if self.config.beta == 0 or self.reference is not None:
            return
        warmed = self.output / WARMED_UP
        source = self.config.reference_model or (
            str(warmed) if (warmed / "config.json").exists() else self._model_path(self.config.model)
        )
        self.reference = (
            AutoModelForCausalLM.from_pretrained(source, dtype=pick_dtype(self.device))
            .to(self.device)
            .eval()
            .requires_grad_(False)
        )

    @staticmethod
    def _seed(seed: int) -> None:
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)

    # Supervised warm-up (optional) ------------------------------------------------------------

    def warm_up(self) -> None:
        """A few supervised steps on reference completions, so the policy starts with the format."""
        examples = [p for p in self.problems if p.reference or p.reference_messages]
        if not examples or self.config.sft_warmup_steps == 0 or self.step > 0:
            return
        steps = self.config.sft_warmup_steps
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.config.sft_learning_rate)
        # linear decay to 0: at a constant high rate the last steps' noise decides where GRPO starts
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / steps)
        self.model.train()
        for _ in tqdm(range(steps), desc="warm-up", leave=False):
            batch = random.sample(examples, min(self.config.sft_batch_size, len(examples)))
            prompts = [self.tokenizer(p.prompt, add_special_tokens=False)["input_ids"] for p in batch]
            targets = [self.reference_tokens(p) for p in batch]
            ids, attention, mask = pack(
                [torch.tensor(p) for p in prompts],
                [torch.tensor(ids) for ids, _ in targets],
                self.tokenizer.pad_token_id,
                [torch.tensor(mask) for _, mask in targets],
            )
            ids, attention, mask = ids.to(self.device), attention.to(self.device), mask.to(self.device)
            logp = token_logprobs(self.model, ids, attention)
            loss = -(logp * mask[:, 1:]).sum() / mask[:, 1:].sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        self.model.save_pretrained(self.output / WARMED_UP)
        self.tokenizer.save_pretrained(self.output / WARMED_UP)

    def reference_tokens(self, problem: Problem) -> tuple[list[int], list[int]]:
        """A reference completion's token ids and loss mask: every assistant turn ends with EOS and is
        learned; a reference trajectory's tool results are context, not targets."""
        tokens = self.tokenizer
        turns = problem.reference_messages or [{"role": "assistant", "content": problem.reference}]
        ids: list[int] = []
        mask: list[int] = []
        for message in turns:
            if message["role"] == "assistant":
                piece = [
                    *tokens(message["content"], add_special_tokens=False)["input_ids"],
                    tokens.eos_token_id,
                ]
            else:
                piece = tool_result_ids(tokens, [message])
            ids += piece
            mask += [int(message["role"] == "assistant")] * len(piece)
        return ids, mask

    # Rollouts and evaluation --------------------------------------------------------------------

    def generate(self, problems: list[Problem], group_size: int, temperature: float | None) -> list[Group]:
        """Completions, or with `max_turns` > 1 trajectories whose tool calls Referee runs."""
        prompts = [p.prompt for p in problems]
        if self.config.max_turns == 1:
            return generate_groups(
                self.model, self.tokenizer, prompts, group_size, self.config.max_new_tokens, temperature
            )
        return agent_groups(
            self.model,
            self.tokenizer,
            prompts,
            group_size,
            self.config.max_new_tokens,
            temperature,
            self.config.max_turns,
            lambda message: self.client.call_tools(message=message),
        )

    def _score(
        self, problems: list[Problem], groups: list[Group], names: list[str], evaluation: bool = False
    ) -> RewardResponse:
        """One request for a generate call's groups; `group` tells Referee which items belong together."""
        items = [
            {
                "id": f"{name}-{i}",
                "group": name,
                "prompt": problem.prompt,
                "completion": group.messages[i] if group.messages else text,
                "answer": problem.answer,
                # the policy's own tokens: a trajectory's tool results do not count for length rewards
                "completion_tokens": int(group.masks[i].sum()) if group.masks else len(completion),
                **({"tools": self.tools} if self.tools else {}),
                **problem.extra,
            }
            for problem, group, name in zip(problems, groups, names, strict=True)
            for i, (text, completion) in enumerate(zip(group.texts, group.completions, strict=True))
        ]
        return self.client.score(
            items,
            rewards=self.config.rewards,
            profile=self.config.profile,
            params=self.config.params,
            step=self.step,
            run=f"{self.client.run}-eval" if evaluation and self.client.run else None,
        )

    def rollouts(
        self, indices: list[int], scorer: ThreadPoolExecutor
    ) -> tuple[list[ScoredGroup], float, float]:
        """Generate `generation_batch` prompts' groups per call and send them to Referee at once, so
        scoring overlaps the next call's generation. Returns the groups, generation and scoring-wait time."""
        self.model.eval()
        size = self.config.group_size
        generated: list[tuple[list[int], list[Group]]] = []
        futures: list[Future[RewardResponse]] = []
        generation_time = 0.0
        for chunk in chunks(indices, self.config.generation_batch):
            problems = [self.problems[index] for index in chunk]
            started = time.perf_counter()
            groups = self.generate(problems, size, self.config.temperature)
            generation_time += time.perf_counter() - started
            offset = sum(len(done) for done, _ in generated)  # a prompt may be drawn twice in a step
            names = [f"{self.step}-{offset + position}" for position in range(len(chunk))]
            futures.append(scorer.submit(self._score, problems, groups, names))
            generated.append((chunk, groups))
        waited = time.perf_counter()
        scored = []
        for (chunk, groups), future in zip(generated, futures, strict=True):
            results = future.result().results
            for position, (index, group) in enumerate(zip(chunk, groups, strict=True)):
                scored.append(ScoredGroup(index, group, results[position * size : (position + 1) * size]))
        return scored, generation_time, time.perf_counter() - waited

    def is_correct(self, result: ItemResult) -> bool:
        return (result.scores.get(self.config.correctness_reward) or 0.0) >= 1.0

    def evaluate(self) -> dict[str, Any]:
        """Greedy completions of the held-out problems, scored by Referee with the run's rewards."""
        self.model.eval()
        results: list[ItemResult] = []
        lengths: list[int] = []
        called: list[bool] = []
        batch = self.config.generation_batch * self.config.group_size
        for chunk in chunks(self.eval_problems, batch):
            groups = self.generate(chunk, 1, None)
            names = [f"eval-{self.step}-{len(results) + i}" for i in range(len(chunk))]
            results += self._score(chunk, groups, names, evaluation=True).results
            lengths += [len(group.completions[0]) for group in groups]
            called += [ran_a_tool(group.messages[0]) for group in groups if group.messages]
        correct = [self.is_correct(result) for result in results]
        row = {
            "eval/accuracy": float(np.mean(correct)),
            "eval/reward": float(np.mean([result.reward for result in results])),
            "eval/completion_length": float(np.mean(lengths)),
            "eval/completion_length_correct": mean([n for n, ok in zip(lengths, correct, strict=True) if ok]),
        }
        if called:
            row["eval/valid_call_rate"] = float(np.mean(called))
        return row

    # One GRPO step ------------------------------------------------------------------------------

    def train_step(self, scorer: ThreadPoolExecutor) -> dict[str, Any]:
        config = self.config
        started = time.perf_counter()
        indices = self.sampler.sample(config.prompts_per_step, self.step)
        groups, generation_time, scoring_wait = self.rollouts(indices, scorer)

        rewards = torch.tensor([g.rewards for g in groups], dtype=torch.float32)
        advantages = group_advantages(rewards, scale=config.scale_rewards).flatten()
        prompt_ids = [g.rollout.prompt_ids for g in groups for _ in g.rollout.completions]
        completions = [c for g in groups for c in g.rollout.completions]
        masks = [m for g in groups for m in g.rollout.masks or []] or None
        ids, attention, mask = pack(prompt_ids, completions, self.tokenizer.pad_token_id, masks)
        ids, attention, mask = ids.to(self.device), attention.to(self.device), mask[:, 1:].to(self.device)
        advantages = advantages.to(self.device)
        micro_batches = torch.arange(len(completions)).chunk(config.grad_accumulation)
        # With one pass over the batch (μ = 1) the old policy is the current one: its log-probs are the
        # update's own, detached (as TRL), which saves a forward pass. With μ > 1 they are computed first.
        reuse = config.inner_updates == 1
        old_parts, ref_parts, entropy_sum = [], [], 0.0
        with torch.no_grad():  # per micro-batch: a large vocabulary's logits are big
            for rows in micro_batches:
                if not reuse:
                    logits = policy_logits(self.model, ids[rows], attention[rows], config.temperature)
                    old_parts.append(gather_logprobs(logits, ids[rows]))
                    entropy_sum += float((token_entropy(logits) * mask[rows]).sum())
                if self.reference is not None:
                    ref_parts.append(
                        token_logprobs(self.reference, ids[rows], attention[rows], config.temperature)
                    )
        old_logp = torch.cat(old_parts) if old_parts else None
        ref_logp = torch.cat(ref_parts) if ref_parts else None

        stats: dict[str, list[float]] = {"loss": [], "clip_fraction": [], "kl": []}
        total = (
            float(mask.sum().clamp(min=1)) if config.loss_aggregation == "token" else float(len(completions))
        )
        for _ in range(config.inner_updates):
            self.optimizer.zero_grad()
            for rows in micro_batches:
                logits = policy_logits(self.model, ids[rows], attention[rows], config.temperature)
                logp = gather_logprobs(logits, ids[rows])
                if reuse:
                    with torch.no_grad():
                        entropy_sum += float((token_entropy(logits) * mask[rows]).sum())
                loss, step_stats = clipped_loss(
                    logp,
                    logp.detach() if old_logp is None else old_logp[rows],
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
            self.sampler.update(group.index, float(np.mean([self.is_correct(r) for r in group.results])))
        row = self._metrics(groups, rewards, stats)
        row["entropy"] = entropy_sum / float(mask.sum().clamp(min=1))
        row["time/generation_s"] = round(generation_time, 3)
        row["time/scoring_wait_s"] = round(scoring_wait, 3)
        row["time/step_s"] = round(time.perf_counter() - started, 3)
        return row

    def _metrics(
        self, groups: list[ScoredGroup], rewards: torch.Tensor, stats: dict[str, list[float]]
    ) -> dict[str, Any]:
        results = [r for g in groups for r in g.results]
        lengths = [len(c) for g in groups for c in g.rollout.completions]
        correct = [self.is_correct(r) for r in results]
        row: dict[str, Any] = {
            "step": self.step,
            "reward_mean": float(rewards.mean()),
            "reward_std": float(rewards.std()),
            "accuracy": float(np.mean(correct)),
        }
        for name in sorted({name for r in results for name in r.scores}):
            scored = [v for r in results if (v := r.scores.get(name)) is not None]
            row[f"reward/{name}"] = mean(scored)
            row[f"reward_std/{name}"] = float(np.std(scored)) if scored else None
            row[f"null/{name}"] = len(results) - len(scored)
        row.update({key: float(np.mean(values)) for key, values in stats.items()})
        row["completion_length"] = float(np.mean(lengths))
        row["completion_length_correct"] = mean([n for n, ok in zip(lengths, correct, strict=True) if ok])
        trajectories = [m for g in groups for m in g.rollout.messages or []]
        if trajectories:
            row["valid_call_rate"] = float(np.mean([ran_a_tool(m) for m in trajectories]))
            row["assistant_turns"] = float(
                np.mean([sum(t["role"] == "assistant" for t in m) for m in trajectories])
            )
        row["sample"] = (
            groups[0].rollout.messages[0] if groups[0].rollout.messages else groups[0].rollout.texts[0]
        )
        return row

    # The loop -----------------------------------------------------------------------------------

    def _log(self, row: dict[str, Any]) -> None:
        with self.metrics_file.open("a") as out:
            out.write(json.dumps(row) + "\n")

    def _should_evaluate(self) -> bool:
        return (
            bool(self.eval_problems)
            and self.config.eval_every > 0
            and self.step % self.config.eval_every == 0
        )

    def train(self) -> list[dict[str, Any]]:
        self.warm_up()
        self.load_reference()
        history = []
        with (
            ThreadPoolExecutor(max_workers=4) as scorer,
            tqdm(total=self.config.steps, initial=self.step, desc="GRPO", unit="step") as progress,
        ):
            while self.step < self.config.steps:
                evaluation = self.evaluate() if self._should_evaluate() else {}
                row = {**self.train_step(scorer), **evaluation}
                self._log(row)
                history.append(row)
                self.step += 1
                progress.update(1)
                progress.set_postfix(
                    reward=f"{row['reward_mean']:.3f}",
                    entropy=f"{row['entropy']:.2f}",
                    **({"eval_acc": f"{evaluation['eval/accuracy']:.2f}"} if evaluation else {}),
                )
                if self.step == self.config.steps and self.eval_problems and self.config.eval_every > 0:
                    final = {
                        "step": self.step,
                        **self.evaluate(),
                    }  # the trained policy, after the last update
                    self._log(final)
                    history.append(final)
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
