"""Generation and log-probabilities with a Hugging Face causal LM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclass
class Group:
    """One prompt's completions: the prompt's token ids (no padding), completion ids each up to and
    including EOS, and their decoded texts. Multi-turn trajectories also carry a mask per completion
    (1 on tokens the policy wrote, 0 on tool results) and their chat messages."""

    prompt_ids: torch.Tensor
    completions: list[torch.Tensor]
    texts: list[str]
    masks: list[torch.Tensor] | None = None
    messages: list[list[dict[str, Any]]] | None = None


def left_pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Prompts of different lengths as one batch for `generate`: padding on the left, so every row's
    next token is at the same position, and an attention mask that hides the padding."""
    width = max(len(row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    for index, row in enumerate(rows):
        if row:
            ids[index, width - len(row) :] = torch.tensor(row)
            attention[index, width - len(row) :] = 1
    return ids, attention


def generate_from_ids(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    contexts: list[list[int]],
    max_new_tokens: int,
    temperature: float | None,
) -> list[torch.Tensor]:
    """A continuation of every context in one `generate` call, each cut after its first EOS.

    `temperature=None` decodes greedily (evaluation). Many rows per call is what makes generation
    fast: one call per prompt leaves a small model's matrix products tiny.
    """
    device = next(model.parameters()).device
    ids, attention = left_pad(contexts, tokenizer.pad_token_id)
    sampling = (
        {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0}
        if temperature is not None
        else {"do_sample": False}
    )
    with torch.no_grad():
        output = model.generate(
            ids.to(device),
            attention_mask=attention.to(device),
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            **sampling,
        )
    continuations = []
    for row in output[:, ids.shape[1] :]:
        ends = (row == tokenizer.eos_token_id).nonzero()
        continuations.append(row[: int(ends[0]) + 1] if len(ends) else row)
    return continuations


def generate_groups(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    group_size: int,
    max_new_tokens: int,
    temperature: float | None,
) -> list[Group]:
    """`group_size` completions of each prompt, all prompts in one `generate` call (`temperature=None`:
    greedy, with `group_size=1`)."""
    encoded = [list(tokenizer(prompt, add_special_tokens=False)["input_ids"]) for prompt in prompts]
    contexts = [prompt for prompt in encoded for _ in range(group_size)]
    completions = generate_from_ids(model, tokenizer, contexts, max_new_tokens, temperature)
    texts = tokenizer.batch_decode(completions, skip_special_tokens=True)
    return [
        Group(
            torch.tensor(prompt, dtype=torch.long),
            completions[index * group_size : (index + 1) * group_size],
            texts[index * group_size : (index + 1) * group_size],
        )
        for index, prompt in enumerate(encoded)
    ]


def pack(
    prompt_ids: list[torch.Tensor],
    completions: list[torch.Tensor],
    pad_id: int,
    masks: list[torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded [prompt + completion] rows, their attention mask, and the mask of the tokens the
    loss sees: the completion's, or where `masks` says (tool results of a trajectory are not)."""
    lengths = [len(p) + len(c) for p, c in zip(prompt_ids, completions, strict=True)]
    width = max(lengths)
    ids = torch.full((len(lengths), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(lengths), width), dtype=torch.long)
    completion_mask = torch.zeros((len(lengths), width), dtype=torch.long)
    for row, (prompt, completion) in enumerate(zip(prompt_ids, completions, strict=True)):
        sequence = torch.cat([prompt.cpu(), completion.cpu()])
        ids[row, : len(sequence)] = sequence
        attention[row, : len(sequence)] = 1
        completion_mask[row, len(prompt) : len(sequence)] = 1 if masks is None else masks[row].cpu()
    return ids, attention, completion_mask


def token_logits(
    model: PreTrainedModel, ids: torch.Tensor, attention: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """Next-token logits for positions 0..n-2, aligned with `ids[:, 1:]`, in float32, divided by the
    sampling temperature so that log-probs are those of the distribution the tokens were drawn from."""
    return model(input_ids=ids, attention_mask=attention).logits[:, :-1].float() / temperature


def gather_logprobs(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)


def token_logprobs(
    model: PreTrainedModel, ids: torch.Tensor, attention: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """log π(token_t | tokens_<t) for t ≥ 1, aligned with `ids[:, 1:]`."""
    return gather_logprobs(token_logits(model, ids, attention, temperature), ids)


def token_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of each next-token distribution (nats): its fall to 0 is the collapse to watch for."""
    logp = torch.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1)
