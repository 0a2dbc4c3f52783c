"""The registry: reward name -> `Reward`, and profile name -> weights.

Adding a reward is one function in its own module plus one line here.
"""

from __future__ import annotations

from service.rewards.base import Reward

REWARDS: dict[str, Reward] = {
}

PROFILES: dict[str, dict[str, float]] = {
}
