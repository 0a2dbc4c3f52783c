"""Prompts to train on: the built-in synthetic task, or a JSONL dataset."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Problem:
    prompt: str
    answer: str
    difficulty: float = 0.0
    reference: str | None = None  # a correct completion, for the optional supervised warm-up
    extra: dict[str, Any] = field(default_factory=dict)


def addition_task() -> list[Problem]:
    """Single-digit addition in the `<think>…</think><answer>…</answer>` format: learnable on a CPU in
    minutes, graded by Referee's `math` (the answer tag) and `format` rewards."""
    return [
        Problem(
            prompt=f"{a}+{b}=?",
            answer=str(a + b),
            difficulty=float(a + b),
            reference=f"<think>{a}+{b}={a + b}</think><answer>{a + b}</answer>",
        )
        for a in range(10)
        for b in range(10)
    ]


def load_problems(task: str | None, dataset: Path | None) -> list[Problem]:
    if dataset is not None:
        problems = []
        for line in dataset.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                problems.append(
                    Problem(
                        prompt=row.pop("prompt"),
                        answer=str(row.pop("answer", "")),
                        difficulty=float(row.pop("difficulty", 0.0)),
                        extra=row,
                    )
                )
        return problems
    if task == "addition":
        return addition_task()
    raise ValueError(f"unknown task {task!r}")
