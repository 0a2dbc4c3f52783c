"""Reward functions and their registry (`service.rewards.registry.REWARDS`)."""
