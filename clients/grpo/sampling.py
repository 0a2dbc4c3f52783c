"""Which prompts to train on next: uniform, Kimi k1.5 prioritized (by failure rate), or curriculum."""

from __future__ import annotations

from typing import Any

import numpy as np

PRIORITY_FLOOR = 0.05  # solved prompts keep a small chance, so a regression is noticed


class PromptSampler:
    def __init__(
        self,
        count: int,
        mode: str = "uniform",
        difficulties: list[float] | None = None,
        curriculum_steps: int = 100,
        seed: int = 0,
    ) -> None:
        self.count, self.mode, self.curriculum_steps = count, mode, curriculum_steps
        self.difficulties = np.asarray(
            difficulties if difficulties is not None else [0.0] * count, dtype=float
        )
        self.success = np.zeros(count)  # running success rate s_i
        self.seen = np.zeros(count)
        self.rng = np.random.default_rng(seed)

    def probabilities(self, step: int) -> np.ndarray:
        if self.mode == "prioritized":  # Kimi k1.5: p_i ∝ 1 − s_i
            weights = np.maximum(1.0 - self.success, PRIORITY_FLOOR)
        elif self.mode == "curriculum":  # easy to hard: widen the pool as training goes on
            order = np.argsort(self.difficulties, kind="stable")
            share = min(1.0, 0.25 + 0.75 * step / self.curriculum_steps)
            weights = np.zeros(self.count)
            weights[order[: max(1, int(round(share * self.count)))]] = 1.0
        elif self.mode == "uniform":
            weights = np.ones(self.count)
        else:
            raise ValueError(f"unknown sampling {self.mode!r}")
        return weights / weights.sum()

    def sample(self, n: int, step: int) -> list[int]:
        probabilities = self.probabilities(step)
        replace = n > int((probabilities > 0).sum())
        return [int(i) for i in self.rng.choice(self.count, size=n, replace=replace, p=probabilities)]

    def update(self, index: int, success_rate: float) -> None:
        """Running mean of the group's success rate for this prompt."""
        self.seen[index] += 1
        self.success[index] += (success_rate - self.success[index]) / self.seen[index]

    def state_dict(self) -> dict[str, Any]:
        return {
            "success": self.success.tolist(),
            "seen": self.seen.tolist(),
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.success = np.asarray(state["success"])
        self.seen = np.asarray(state["seen"])
        self.rng.bit_generator.state = state["rng"]
