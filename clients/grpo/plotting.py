"""The training-curve PNG, redrawn during training from the metrics JSONL: rewards and held-out
accuracy, completion lengths, and token entropy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def smooth(values: list[float], window: int) -> list[float]:
    return [
        sum(values[max(0, i - window + 1) : i + 1]) / len(values[max(0, i - window + 1) : i + 1])
        for i in range(len(values))
    ]


def series(rows: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    points = [(row["step"], row[key]) for row in rows if row.get(key) is not None]
    return [step for step, _ in points], [value for _, value in points]


def plot_rewards(metrics_file: Path, output: Path, window: int = 5) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in metrics_file.read_text().splitlines() if line.strip()]
    if not rows:
        return
    figure, (rewards, lengths, entropy) = plt.subplots(1, 3, figsize=(15, 4.5))
    names = ["reward_mean"] + sorted({key for row in rows for key in row if key.startswith("reward/")})
    for key in names:
        xs, ys = series(rows, key)
        if xs:
            label = "reward" if key == "reward_mean" else key.removeprefix("reward/")
            line = rewards.plot(
                xs,
                smooth(ys, window),
                label=f"{label} (train, mean of {window})",
                linewidth=2 if key == "reward_mean" else 1,
            )
            rewards.scatter(xs, ys, s=6, alpha=0.3, color=line[0].get_color())
    xs, ys = series(rows, "eval/accuracy")
    if xs:
        rewards.plot(xs, ys, "o-", color="black", label="eval/accuracy (held out, greedy)")
    xs, ys = series(rows, "valid_call_rate")  # multi-turn runs: how often a tool call ran
    if xs:
        rewards.plot(
            xs, smooth(ys, window), color="tab:gray", label=f"valid_call_rate (train, mean of {window})"
        )
    xs, ys = series(rows, "eval/valid_call_rate")
    if xs:
        rewards.plot(xs, ys, "s--", color="tab:gray", label="eval/valid_call_rate (held out)")
    rewards.set_title("Reward (scored by Referee) and held-out accuracy")
    for key, label in (("completion_length", "all"), ("completion_length_correct", "correct")):
        xs, ys = series(rows, key)
        if xs:
            lengths.plot(xs, smooth(ys, window), label=f"{label} (train, mean of {window})")
    xs, ys = series(rows, "eval/completion_length_correct")
    if xs:
        lengths.plot(xs, ys, "o-", color="black", label="correct (eval)")
    lengths.set_title("Completion length (tokens)")
    xs, ys = series(rows, "entropy")
    if xs:
        entropy.plot(xs, smooth(ys, window), color="tab:purple")
    entropy.set_title("Mean token entropy of sampled completions (nats)")
    for axis in (rewards, lengths, entropy):
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    for axis in (rewards, lengths):
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=8)
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=100)
    plt.close(figure)
