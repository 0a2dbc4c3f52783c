"""Generation and log-probabilities with a Hugging Face causal LM."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def generate_group(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompt: str,
    group_size: int,
    max_new_tokens: int,
    temperature: float,
) -> tuple[torch.Tensor, list[torch.Tensor], list[str]]:
    """G sampled completions of one prompt: (prompt ids, completion ids each up to EOS, texts)."""
    device = next(model.parameters()).device
    prompt_ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"].to(device)
    with torch.no_grad():
        output = model.generate(
            prompt_ids.repeat(group_size, 1),
            attention_mask=torch.ones_like(prompt_ids).repeat(group_size, 1),
            do_sample=True,
            temperature=temperature,
            top_k=0,
            top_p=1.0,
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    completions = []
    for row in output[:, prompt_ids.shape[1] :]:
        ends = (row == tokenizer.eos_token_id).nonzero()
        completions.append(row[: int(ends[0]) + 1] if len(ends) else row)
    texts = tokenizer.batch_decode(completions, skip_special_tokens=True)
    return prompt_ids[0], completions, texts


def pack(
    prompt_ids: list[torch.Tensor], completions: list[torch.Tensor], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded [prompt + completion] rows, their attention mask, and the completion-token mask."""
    lengths = [len(p) + len(c) for p, c in zip(prompt_ids, completions, strict=True)]
    width = max(lengths)
    ids = torch.full((len(lengths), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(lengths), width), dtype=torch.long)
    completion_mask = torch.zeros((len(lengths), width), dtype=torch.long)
    for row, (prompt, completion) in enumerate(zip(prompt_ids, completions, strict=True)):
        sequence = torch.cat([prompt.cpu(), completion.cpu()])
        ids[row, : len(sequence)] = sequence
        attention[row, : len(sequence)] = 1
        completion_mask[row, len(prompt) : len(sequence)] = 1
    return ids, attention, completion_mask


def token_logprobs(model: PreTrainedModel, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """log π(token_t | tokens_<t) for t ≥ 1, aligned with `ids[:, 1:]`."""
    logits = model(input_ids=ids, attention_mask=attention).logits[:, :-1].float()
    return torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
