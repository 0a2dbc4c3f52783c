from __future__ import annotations

import numpy as np

from clients.grpo.sampling import PRIORITY_FLOOR, PromptSampler


def test_prioritized_sampling_follows_failure_rate() -> None:
    sampler = PromptSampler(3, "prioritized", seed=0)
    sampler.update(0, 1.0)  # always solved
    sampler.update(1, 0.5)
    sampler.update(2, 0.0)  # never solved
    probabilities = sampler.probabilities(step=0)
    expected = np.array([PRIORITY_FLOOR, 0.5, 1.0]) / (PRIORITY_FLOOR + 1.5)
    assert np.allclose(probabilities, expected)
    counts = np.bincount([sampler.sample(1, 0)[0] for _ in range(3000)], minlength=3)
    assert counts[2] > counts[1] > counts[0]


def test_running_success_rate() -> None:
    sampler = PromptSampler(1, "prioritized")
    for rate in (1.0, 0.0, 0.5):
        sampler.update(0, rate)
    assert sampler.success[0] == 0.5


def test_curriculum_widens_from_easy_to_hard() -> None:
    sampler = PromptSampler(8, "curriculum", difficulties=[7, 6, 5, 4, 3, 2, 1, 0], curriculum_steps=100)
    assert set(np.flatnonzero(sampler.probabilities(0))) == {7, 6}  # the easiest quarter
    assert len(np.flatnonzero(sampler.probabilities(50))) == 5
    assert len(np.flatnonzero(sampler.probabilities(100))) == 8


def test_state_round_trip() -> None:
    a = PromptSampler(10, "prioritized", seed=3)
    a.update(4, 1.0)
    b = PromptSampler(10, "prioritized", seed=99)
    b.load_state_dict(a.state_dict())
    assert a.sample(5, 1) == b.sample(5, 1)
