"""Agent trajectories to and from OpenManus-RL / verl-agent per-step rollout rows.

Those trainers keep one row per environment step (`uid` the episode group, `traj_uid` the trajectory,
`anchor_obs`, the observation the policy saw, its `action` text, the step `reward`, `done`, `won`,
`is_action_valid`). Referee scores whole trajectories: `items_from_step_rows` turns the rows into
trajectory items (observations as `user` turns, actions as `assistant` turns), and `onto_rows` puts a
response's per-turn credit back onto the rows, in their order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from clients.client import RewardResponse

Row = Mapping[str, Any]


def anchor_text(value: Any) -> str:
    """GiGPO compares anchors by exact equality; as text they must stay equal exactly when the
    observations are (arrays and dicts through sorted JSON)."""
    if isinstance(value, str):
        return value
    if hasattr(value, "tolist"):
        value = value.tolist()
    return json.dumps(value, sort_keys=True, default=str)


def trajectories(rows: Sequence[Row]) -> dict[str, list[int]]:
    """Row indices per `traj_uid`, in first-seen order."""
    grouped: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        grouped.setdefault(str(row["traj_uid"]), []).append(index)
    return grouped


def items_from_step_rows(
    rows: Sequence[Row],
    extra: Callable[[Row], Mapping[str, Any]] | None = None,
    observation_key: str = "observation",
    action_key: str = "action",
) -> list[dict[str, Any]]:
    """One trajectory item per `traj_uid`: prompt = the first observation, completion = the actions as
    assistant turns with the later observations as user turns between them, `step_rewards`, `success`
    (the last row's `won`) and `anchors` (`anchor_obs`). `extra(first_row)` adds task fields such as
    `answer`, `tools` or `expected_state`."""
    items = []
    for traj_uid, indices in trajectories(rows).items():
        steps = [rows[i] for i in indices]
        completion: list[dict[str, Any]] = []
        for number, step in enumerate(steps):
            if number:
                completion.append({"role": "user", "content": str(step[observation_key])})
            completion.append({"role": "assistant", "content": str(step[action_key])})
        item: dict[str, Any] = {
            "id": traj_uid,
            "group": str(steps[0].get("uid", traj_uid)),
            "prompt": str(steps[0][observation_key]),
            "completion": completion,
            "step_rewards": [float(step.get("reward") or 0.0) for step in steps],
        }
        if any("won" in step for step in steps):  # without it, env_outcome falls back on step_rewards
            item["success"] = bool(steps[-1].get("won", False))
        if all("anchor_obs" in step for step in steps):
            item["anchors"] = [anchor_text(step["anchor_obs"]) for step in steps]
        if extra is not None:
            item.update(extra(steps[0]))
        items.append(item)
    return items


def onto_rows(rows: Sequence[Row], response: RewardResponse) -> list[dict[str, Any]]:
    """Per row, in row order: its trajectory's reward, the turn's reward and return, and the turn's
    own scores (e.g. `action_format` → a validity flag). Needs a request made with `turns`."""
    results = {result.id: result for result in response.results}
    out: list[dict[str, Any]] = [{} for _ in rows]
    for traj_uid, indices in trajectories(rows).items():
        result = results[traj_uid]
        if result.turns is None:
            raise ValueError("the response has no per-turn credit: score with turns={'gamma': ...}")
        for turn, index in enumerate(indices):
            out[index] = {
                "reward": result.reward,
                "turn_reward": result.turns.rewards[turn],
                "turn_return": result.turns.returns[turn],
                "anchor": result.turns.anchors[turn],
                "scores": {name: values[turn] for name, values in result.turns.scores.items()},
            }
    return out
