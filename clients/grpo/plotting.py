"""The reward-curve PNG, redrawn during training from the metrics JSONL."""

from __future__ import annotations

import json
from pathlib import Path


def plot_rewards(metrics_file: Path, output: Path, window: int = 5) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in metrics_file.read_text().splitlines() if line.strip()]
    if not rows:
        return
    steps = [row["step"] for row in rows]
    figure, axis = plt.subplots(figsize=(8, 4.5))
    names = ["reward"] + sorted(
        {key[len("reward/") :] for row in rows for key in row if key.startswith("reward/")}
    )
    for name in names:
        key = "reward_mean" if name == "reward" else f"reward/{name}"
        values = [row.get(key) for row in rows]
        points = [(s, v) for s, v in zip(steps, values, strict=True) if v is not None]
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        smoothed = [
            sum(ys[max(0, i - window + 1) : i + 1]) / len(ys[max(0, i - window + 1) : i + 1])
            for i in range(len(ys))
        ]
        line = axis.plot(
            xs, smoothed, label=f"{name} (mean of {window})", linewidth=2 if name == "reward" else 1
        )
        axis.scatter(xs, ys, s=6, alpha=0.3, color=line[0].get_color())
    axis.set_xlabel("step")
    axis.set_ylabel("reward")
    axis.set_title("GRPO training reward (scored by Referee)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=100)
    plt.close(figure)
