"""Prompts to train on: a built-in synthetic task, or a JSONL dataset, split into train and held-out
evaluation problems."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

SPLIT_SEED = 20240101  # the train/eval split of a task never depends on the run's seed


@dataclass
class Problem:
    prompt: str
    answer: str
    difficulty: float = 0.0
    reference: str | None = None  # a correct completion, for the optional supervised warm-up
    extra: dict[str, Any] = field(default_factory=dict)
    reference_messages: list[dict[str, Any]] | None = None  # a reference trajectory (multi-turn tasks)


def addition() -> list[Problem]:
    """Single-digit addition in the `<think>…</think><answer>…</answer>` format: learnable on a CPU in
    minutes, graded by Referee's `math` (the answer tag) and `format` rewards. Only 100 problems, so a
    held-out split tests memory more than skill: prefer `two_digit_addition` for evaluation."""
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


def column_sum(a: int, b: int, carry: bool = True) -> str:
    """The written method, ones first: `47+85` → `7+5=12 4+8+1=13`. Every step is a single-digit
    fact, so a model that learns the steps can add pairs it has never seen. `carry=False` is the
    classic slip: the tens step without the carried 1 (`4+8=12`)."""
    ones = a % 10 + b % 10
    carried = carry and ones >= 10
    tens = a // 10 + b // 10 + int(carried)
    return f"{a % 10}+{b % 10}={ones} {a // 10}+{b // 10}{'+1' if carried else ''}={tens}"


def two_digit_addition(verbose: bool = False, forget_carry: float = 0.0) -> list[Problem]:
    """10..99 + 10..99 (8 100 problems) with the column method as reasoning; 45% need a carry.

    The answers are always right; the references (what the warm-up imitates) can be imperfect:
    `verbose` pads the reasoning with 0-4 rechecks (`check 132`), a long and varied length for Kimi
    k1.5's length penalty to shorten; `forget_carry` is the share of carry problems whose reference
    forgets the carry (and so ends on a wrong sum), a systematic demonstrator error for the verifier's
    reward to correct.
    """
    rng = random.Random(SPLIT_SEED)
    problems = []
    for a in range(10, 100):
        for b in range(10, 100):
            carry = rng.random() >= forget_carry
            steps = column_sum(a, b, carry)
            written = int(steps.rsplit("=", 1)[1]) * 10 + (a + b) % 10
            padding = f" check {written}" * rng.randint(0, 4) if verbose else ""
            problems.append(
                Problem(
                    prompt=f"{a}+{b}=?",
                    answer=str(a + b),
                    difficulty=float(a % 10 + b % 10 >= 10) + (a + b) / 200,
                    reference=f"<think>{steps}{padding}</think><answer>{written}</answer>",
                )
            )
    return problems


def calculator_call(expression: str) -> str:
    arguments = json.dumps(
        {"name": "calculator", "arguments": {"expression": expression}}, separators=(",", ":")
    )
    return f"<tool_call>{arguments}</tool_call>"


def multiplication_with_tools(guess: float = 0.0) -> list[Problem]:
    """100..999 × 10..99: too hard for a tiny model in its head, easy with the `calculator` tool. The
    reference trajectory calls the tool, reads the result and answers with it; with `guess`, that share
    of the references skips the tool and guesses (wrongly), a demonstrator the reward must correct."""
    rng = random.Random(SPLIT_SEED)
    problems = []
    for a in range(100, 1000):
        for b in range(10, 100):
            product = a * b
            if rng.random() < guess:
                wrong = product + rng.choice([-1, 1]) * rng.randint(1, 99) * 10
                turns = [{"role": "assistant", "content": f"<think>about</think><answer>{wrong}</answer>"}]
            else:
                turns = [
                    {"role": "assistant", "content": f"<think>use it</think>{calculator_call(f'{a}*{b}')}"},
                    {"role": "tool", "name": "calculator", "content": str(product)},
                    {"role": "assistant", "content": f"<think>so</think><answer>{product}</answer>"},
                ]
            problems.append(
                Problem(prompt=f"{a}*{b}=?", answer=str(product), reference_messages=turns, extra={})
            )
    return problems


TASKS: dict[str, Callable[[], list[Problem]]] = {
    "addition": addition,
    "two_digit_addition": two_digit_addition,
    "two_digit_addition_verbose": partial(two_digit_addition, verbose=True),
    "two_digit_addition_careless": partial(two_digit_addition, forget_carry=0.7),
    "multiplication_tool": multiplication_with_tools,
    "multiplication_tool_careless": partial(multiplication_with_tools, guess=0.5),
}


def read_jsonl(path: Path) -> list[Problem]:
    problems = []
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            problems.append(
                Problem(
                    prompt=row.pop("prompt"),
                    answer=str(row.pop("answer", "")),
                    difficulty=float(row.pop("difficulty", 0.0)),
                    reference=row.pop("reference", None),
                    extra=row,
                )
            )
    return problems


def load_problems(
    task: str | None, dataset: Path | None, eval_dataset: Path | None = None, eval_size: int = 0
) -> tuple[list[Problem], list[Problem]]:
    """(train, eval): `eval_dataset` when given, else `eval_size` problems held out of the training set
    by a fixed shuffle, so a run never trains on a problem it is evaluated on."""
    if dataset is not None:
        problems = read_jsonl(dataset)
    elif task in TASKS:
        problems = TASKS[task]()
    else:
        raise ValueError(f"unknown task {task!r}; built-in tasks: {', '.join(TASKS)}")
    if eval_dataset is not None:
        return problems, read_jsonl(eval_dataset)
    if eval_size >= len(problems):
        raise ValueError(f"eval_size {eval_size} leaves no training problems out of {len(problems)}")
    order = list(range(len(problems)))
    random.Random(SPLIT_SEED).shuffle(order)
    held_out = set(order[:eval_size])
    return (
        [p for i, p in enumerate(problems) if i not in held_out],
        [problems[i] for i in sorted(held_out)],
    )
