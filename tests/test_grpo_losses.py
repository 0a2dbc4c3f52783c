"""GRPO math against hand-computed values."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from clients.grpo.losses import clipped_loss, group_advantages, k3_kl
from clients.grpo.rollout import token_logprobs


def test_group_advantages_with_and_without_std_scaling() -> None:
    rewards = torch.tensor([[1.0, 0.0, 1.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
    std = math.sqrt(1 / 3)  # unbiased std of (1, 0, 1, 0)
    expected = 0.5 / (std + 1e-4)
    assert group_advantages(rewards).tolist()[0] == pytest.approx([expected, -expected, expected, -expected])
    assert group_advantages(rewards).tolist()[1] == [0.0] * 4  # a group with equal rewards teaches nothing
    assert group_advantages(rewards, scale=False).tolist()[0] == [0.5, -0.5, 0.5, -0.5]  # Dr. GRPO


def test_k3_kl() -> None:
    logp = torch.log(torch.tensor([0.5, 0.3]))
    ref = torch.log(torch.tensor([0.25, 0.3]))
    # ratio π_ref/π = 0.5: 0.5 − ln 0.5 − 1
    assert k3_kl(logp, ref).tolist() == pytest.approx([0.5 - math.log(0.5) - 1, 0.0], abs=1e-6)
    assert bool((k3_kl(torch.randn(100), torch.randn(100)) >= 0).all())


def test_clipped_surrogate_on_a_hand_example() -> None:
    old = torch.zeros(4, 1)
    logp = torch.log(torch.tensor([[1.5], [1.5], [0.5], [0.5]]))  # ratios 1.5, 1.5, 0.5, 0.5
    advantages = torch.tensor([1.0, -1.0, 1.0, -1.0])
    mask = torch.ones(4, 1)
    loss, stats = clipped_loss(logp, old, advantages, mask, epsilon=0.2)
    # per token: -min(1.5, 1.2) = -1.2; -min(-1.5, -1.2) = 1.5; -min(0.5, 0.8) = -0.5; -min(-0.5, -0.8) = 0.8
    assert float(loss) == pytest.approx((-1.2 + 1.5 - 0.5 + 0.8) / 4)
    assert stats["clip_fraction"] == pytest.approx(0.5)  # the first and the last were clipped
    high, _ = clipped_loss(logp[:1], old[:1], advantages[:1], mask[:1], epsilon=0.2, epsilon_high=0.28)
    assert float(high) == pytest.approx(-1.28)  # DAPO clip-higher


def test_aggregation_and_mask() -> None:
    logp = torch.zeros(2, 3)
    old = torch.zeros(2, 3)
    advantages = torch.tensor([1.0, -2.0])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    token, _ = clipped_loss(logp, old, advantages, mask, epsilon=0.2, aggregation="token")
    sequence, _ = clipped_loss(logp, old, advantages, mask, epsilon=0.2, aggregation="sequence")
    assert float(token) == pytest.approx((-1 * 3 + 2 * 1) / 4)  # every token counts once
    assert float(sequence) == pytest.approx((-1 + 2) / 2)  # every sequence counts once


def test_kl_term_and_gradient_direction() -> None:
    logp = torch.log(torch.tensor([[0.5]])).requires_grad_(True)
    ref = torch.log(torch.tensor([[0.25]]))
    loss, stats = clipped_loss(
        logp, logp.detach(), torch.tensor([0.0]), torch.ones(1, 1), 0.2, beta=0.1, ref_logp=ref
    )
    assert float(loss.detach()) == pytest.approx(0.1 * (0.5 - math.log(0.5) - 1))
    assert stats["kl"] == pytest.approx(0.5 - math.log(0.5) - 1)
    with pytest.raises(ValueError):
        clipped_loss(logp, logp.detach(), torch.tensor([0.0]), torch.ones(1, 1), 0.2, beta=0.1)
    loss, _ = clipped_loss(logp, logp.detach(), torch.tensor([1.0]), torch.ones(1, 1), 0.2)
    loss.backward()
    assert float(logp.grad) < 0  # a positive advantage pushes the log-probability up


def test_gradient_accumulation_gives_the_whole_batch_token_mean() -> None:
    """Micro-batches of unequal token counts: the accumulated loss and gradient are the full batch's,
    not a mean of per-micro-batch means."""
    torch.manual_seed(0)
    logp = torch.randn(4, 6, requires_grad=True)
    old, advantages = logp.detach() + 0.01, torch.tensor([1.0, -1.0, 0.5, 2.0])
    mask = torch.tensor([[1] * 6, [1, 1, 0, 0, 0, 0], [1] * 5 + [0], [1, 0, 0, 0, 0, 0]])
    for aggregation, total in (("token", float(mask.sum())), ("sequence", 4.0)):
        whole, _ = clipped_loss(logp, old, advantages, mask, 0.2, aggregation=aggregation)
        (whole_grad,) = torch.autograd.grad(whole, logp)
        parts = [
            clipped_loss(
                logp[rows], old[rows], advantages[rows], mask[rows], 0.2, aggregation=aggregation, total=total
            )[0]
            for rows in (torch.tensor([0]), torch.tensor([1, 2, 3]))
        ]
        (parts_grad,) = torch.autograd.grad(sum(parts), logp)
        assert torch.allclose(sum(parts), whole) and torch.allclose(parts_grad, whole_grad)
        naive = [
            clipped_loss(logp[rows], old[rows], advantages[rows], mask[rows], 0.2, aggregation=aggregation)[0]
            for rows in (torch.tensor([0]), torch.tensor([1, 2, 3]))
        ]
        if aggregation == "token":  # what the trainer computed before: a mean of the two means
            assert not torch.allclose(sum(naive) / 2, whole)


def test_loss_stats_do_not_warn() -> None:
    logp = torch.randn(2, 3, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, stats = clipped_loss(logp, logp.detach(), torch.ones(2), torch.ones(2, 3), 0.2)
    assert stats["loss"] == loss.item()


def test_old_and_new_log_probs_agree_with_dropout() -> None:
    """With dropout in the model, the first ratio is exactly 1 only if both passes run without it."""
    from clients.grpo.rollout import gather_logprobs
    from clients.grpo.tiny import build_model, build_tokenizer
    from clients.grpo.trainer import policy_logits

    tokenizer = build_tokenizer()
    model = build_model(tokenizer, hidden_size=32, dropout=0.5)
    ids = torch.randint(0, len(tokenizer), (2, 12), generator=torch.Generator().manual_seed(0))
    attention = torch.ones_like(ids)
    with torch.no_grad():
        old = gather_logprobs(policy_logits(model, ids, attention), ids)
    new = gather_logprobs(policy_logits(model, ids, attention), ids)
    assert new.requires_grad and torch.equal(new.detach(), old)
    model.train()  # what the update ran in before: dropout on, so the ratio did not start at 1
    assert not torch.allclose(token_logprobs(model, ids, attention), old)
