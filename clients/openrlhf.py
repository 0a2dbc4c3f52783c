"""OpenRLHF adapter for its local reward-function mode (tested with OpenRLHF 0.11.2):
`--reward.remote_url /path/to/clients/openrlhf.py` (before 0.11: `--remote_rm_url`).

OpenRLHF imports this file and calls `reward_func(queries, prompts, labels)`, one sample per call. It
forwards to Referee's `/get_reward` endpoint (the same protocol OpenRLHF's remote mode speaks,
scored with the server's `openrlhf_profile`), at `REFEREE_URL` with `REFEREE_API_KEY`. For the
remote mode, point `--reward.remote_url` at `http://host:8000/get_reward` directly.
"""

from __future__ import annotations

from typing import Any

from clients.client import shared_client


def reward_func(
    queries: list[str], prompts: list[str], labels: list[Any] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """`{"rewards", "scores", "extra_logs"}`, as tensors when torch is installed (what OpenRLHF expects)."""
    body = {
        "query": list(queries),
        "prompts": list(prompts),
        "labels": None if labels is None else [None if label is None else str(label) for label in labels],
    }
    answer = shared_client().request("POST", "/get_reward", body)
    try:
        import torch
    except ImportError:
        return answer
    return {
        "rewards": torch.tensor(answer["rewards"]),
        "scores": torch.tensor(answer["scores"]),
        "extra_logs": {name: torch.tensor(values) for name, values in answer["extra_logs"].items()},
    }
