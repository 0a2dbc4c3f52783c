"""GRPO's math as small pure functions: group advantages, the k3 KL estimator, the clipped loss."""

from __future__ import annotations

import torch

ADVANTAGE_EPS = 1e-4  # as TRL


def group_advantages(rewards: torch.Tensor, scale: bool = True) -> torch.Tensor:
    """A_i = (r_i − mean(r)) / (std(r) + eps) within each row (one row per prompt's group).

    `scale=False` is Dr. GRPO: no division by the std, which over-weights easy and hard prompts.
    """
    centered = rewards - rewards.mean(dim=-1, keepdim=True)
    if not scale:
        return centered
    return centered / (rewards.std(dim=-1, keepdim=True) + ADVANTAGE_EPS)


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token KL estimate π_ref/π − log(π_ref/π) − 1: unbiased, always ≥ 0."""
    log_ratio = ref_logp - logp
    return torch.exp(log_ratio) - log_ratio - 1


def clipped_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    epsilon: float,
    epsilon_high: float | None = None,
    beta: float = 0.0,
    ref_logp: torch.Tensor | None = None,
    aggregation: str = "token",
    total: float | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """−min(ρ A, clip(ρ, 1−ε, 1+ε_high) A) + β KL per token, aggregated over the completion tokens.

    `logp`, `old_logp`, `ref_logp`, `mask`: [batch, tokens]; `advantages`: [batch]. With gradient
    accumulation, `total` is the whole batch's count (tokens for `token`, sequences for `sequence`),
    so the micro-batch losses add up to the loss of the whole batch instead of a mean of means.
    Returns the loss and stats (loss, clip fraction, mean KL) over the unmasked tokens.
    """
    mask = mask.to(logp.dtype)
    ratio = torch.exp(logp - old_logp)
    high = epsilon if epsilon_high is None else epsilon_high
    advantage = advantages.unsqueeze(-1)
    unclipped = ratio * advantage
    clipped = torch.clamp(ratio, 1 - epsilon, 1 + high) * advantage
    per_token = -torch.min(unclipped, clipped)
    kl = torch.zeros_like(per_token)
    if beta > 0:
        if ref_logp is None:
            raise ValueError("beta > 0 needs ref_logp")
        kl = k3_kl(logp, ref_logp)
        per_token = per_token + beta * kl
    if aggregation == "token":
        loss = (per_token * mask).sum() / (total if total is not None else mask.sum().clamp(min=1))
    elif aggregation == "sequence":
        per_sequence = (per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1)
        loss = per_sequence.sum() / (total if total is not None else len(per_sequence))
    else:
        raise ValueError(f"unknown aggregation {aggregation!r}")
    with torch.no_grad():
        tokens = mask.sum().clamp(min=1)
        was_clipped = (clipped < unclipped).to(logp.dtype)  # the clip bound was the smaller term
        stats = {
            "loss": loss.detach().item(),  # not float(loss): that warns on a tensor that needs grad
            "clip_fraction": float((was_clipped * mask).sum() / tokens),
            "kl": float((kl * mask).sum() / tokens),
        }
    return loss, stats
