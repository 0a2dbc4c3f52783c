"""The registry: reward name -> `Reward`, and profile name -> weights.

Adding a reward is one function in its own module plus one line here.
"""

from __future__ import annotations

from service.rewards.base import Reward
from service.rewards.math import MathParams, math_reward

REWARDS: dict[str, Reward] = {
    "math": Reward(math_reward, MathParams, requires=("answer",), resources=("math_pool",)),
}

PROFILES: dict[str, dict[str, float]] = {
}
