"""Small builders shared by the reward tests."""

from __future__ import annotations

from typing import Any, NoReturn

from sandboxes import Sandbox, SandboxUnavailable, get_sandbox
from service.grading.errors import ErrorKind
from service.items import Item
from service.rewards.base import RewardContext, Score
from service.rewards.registry import REWARDS


def items(*completions: str, **fields: Any) -> list[Item]:
    return [Item(completion=c, **fields) for c in completions]


def score(
    name: str, batch: list[Item], ctx: RewardContext | None = None, **params: Any
) -> list[float | None]:
    """Run one registered reward directly and return the score values."""
    reward = REWARDS[name]
    results = reward.fn(batch, reward.params.model_validate(params), ctx or RewardContext())
    return [s.value for s in results]


def scored(*values: float | None) -> list[Score]:
    return [Score(v) if v is not None else Score.fail(ErrorKind.internal_error, "unknown") for v in values]


def skip_loudly(what: str, reason: object) -> NoReturn:
    """Skip with a banner in the output: a missing Docker must not pass for a tested one."""
    import pytest

    message = f"!!! {what} NOT TESTED: {reason} !!!"
    print(f"\n{'!' * len(message)}\n{message}\n{'!' * len(message)}")
    pytest.skip(message)


SANDBOX_VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "local": ("local", {}),
    "local-cold": ("local", {"warm": False}),
    "docker": ("docker", {}),
    "docker-exec": ("docker", {"runner": False}),
}
"""Test ids -> (backend, options): the warm paths are the defaults; the cold local run (one bwrap
per run) and one `docker exec` per run are kept as baselines and tested too."""


def sandbox_or_skip(variant: str, concurrency: int = 2) -> Sandbox:
    """The backend, or a LOUD skip saying it was not tested (Docker may be unable to run)."""
    name, options = SANDBOX_VARIANTS[variant]
    try:
        return get_sandbox(name, concurrency=concurrency, **options)
    except (SandboxUnavailable, ImportError) as exc:
        skip_loudly(f"{name} sandbox", exc)
