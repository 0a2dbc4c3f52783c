"""Batched generation: prompts of different lengths in one `generate` call must give what each prompt
gives alone (left padding and attention masks right), and the packed log-probs must not see padding."""

from __future__ import annotations

import torch

from clients.grpo.agent import tool_result_ids
from clients.grpo.losses import clipped_loss
from clients.grpo.rollout import (
    gather_logprobs,
    generate_groups,
    left_pad,
    pack,
    token_entropy,
    token_logits,
    token_logprobs,
)
from clients.grpo.tasks import column_sum, load_problems, two_digit_addition
from clients.grpo.tiny import build_model, build_tokenizer

PROMPTS = ["1+2=?", "47+85=?", "what is 123456+7890?", "9"]


def tiny() -> tuple[torch.nn.Module, object]:
    """A random model with large weights: its next token depends on the whole context, so a padding
    token it wrongly attends to (or a shifted position) changes what it generates."""
    tokenizer = build_tokenizer()
    model = build_model(tokenizer, hidden_size=32, seed=3).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" not in name:
                parameter.normal_(0, 0.5, generator=torch.Generator().manual_seed(len(name)))
    return model, tokenizer


def test_left_pad() -> None:
    ids, attention = left_pad([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert attention.tolist() == [[1, 1, 1], [0, 0, 1]]


def test_batched_greedy_generation_matches_one_prompt_at_a_time() -> None:
    model, tokenizer = tiny()
    batched = generate_groups(model, tokenizer, PROMPTS, 1, 12, None)
    for prompt, group in zip(PROMPTS, batched, strict=True):
        (alone,) = generate_groups(model, tokenizer, [prompt], 1, 12, None)
        assert group.prompt_ids.tolist() == alone.prompt_ids.tolist()
        assert group.completions[0].tolist() == alone.completions[0].tolist()
        assert group.texts == alone.texts


def test_groups_keep_their_prompt_and_size() -> None:
    model, tokenizer = tiny()
    torch.manual_seed(0)
    groups = generate_groups(model, tokenizer, PROMPTS, 3, 6, temperature=1.0)
    assert [len(g.completions) for g in groups] == [3] * len(PROMPTS)
    for prompt, group in zip(PROMPTS, groups, strict=True):
        assert tokenizer.decode(group.prompt_ids) == prompt
        assert all(len(c) <= 6 for c in group.completions)


def test_packed_log_probs_ignore_padding() -> None:
    """A short sequence right-padded next to a long one scores exactly as on its own."""
    model, tokenizer = tiny()
    prompts = [torch.tensor(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in PROMPTS[:2]]
    completions = [torch.tensor([10, 11]), torch.tensor([12, 13, 14, 15, 16, 17])]
    ids, attention, mask = pack(prompts, completions, tokenizer.pad_token_id)
    with torch.no_grad():
        batched = token_logprobs(model, ids, attention)
        alone = token_logprobs(
            model, ids[:1, : int(attention[0].sum())], attention[:1, : int(attention[0].sum())]
        )
    width = alone.shape[1]
    assert torch.allclose(batched[0, :width], alone[0], atol=1e-5)
    assert mask[0].tolist()[len(prompts[0]) : len(prompts[0]) + 2] == [1, 1] and int(mask[0].sum()) == 2


def test_token_entropy() -> None:
    uniform = torch.zeros(1, 1, 4)
    certain = torch.tensor([[[100.0, 0.0, 0.0, 0.0]]])
    assert torch.allclose(token_entropy(uniform), torch.log(torch.tensor(4.0)))
    assert float(token_entropy(certain)) < 1e-6


def test_two_digit_addition_references_are_right_and_the_split_is_disjoint() -> None:
    assert column_sum(47, 85) == "7+5=12 4+8+1=13"
    assert column_sum(21, 34) == "1+4=5 2+3=5"
    for problem in two_digit_addition():
        a, b = (int(x) for x in problem.prompt.removesuffix("=?").split("+"))
        assert problem.answer == str(a + b)
        assert problem.reference == f"<think>{column_sum(a, b)}</think><answer>{a + b}</answer>"
    train, held_out = load_problems("two_digit_addition", None, eval_size=200)
    assert len(held_out) == 200 and len(train) == 8100 - 200
    assert not {p.prompt for p in train} & {p.prompt for p in held_out}
    again, _ = load_problems("two_digit_addition", None, eval_size=200)
    assert [p.prompt for p in again] == [p.prompt for p in train]  # the split is fixed
    verbose, _ = load_problems("two_digit_addition_verbose", None, eval_size=200)
    lengths = {p.reference.count("check") for p in verbose if p.reference}
    assert lengths == {0, 1, 2, 3, 4}


def test_careless_references_forget_the_carry_but_the_answers_stay_right() -> None:
    problems, _ = load_problems("two_digit_addition_careless", None)
    carries = [p for p in problems if p.difficulty >= 1]
    forgotten = [p for p in carries if not (p.reference or "").endswith(f"<answer>{p.answer}</answer>")]
    assert 0.65 < len(forgotten) / len(carries) < 0.75
    for problem in forgotten:
        a, b = (int(x) for x in problem.prompt.removesuffix("=?").split("+"))
        assert problem.answer == str(a + b)  # the gold the reward uses is right...
        assert (
            problem.reference
            == f"<think>{column_sum(a, b, carry=False)}</think><answer>{a + b - 10}</answer>"
        )
    assert all(
        p.reference == two.reference
        for p, two in zip(problems, two_digit_addition(), strict=True)
        if p.difficulty < 1
    )


def test_tool_result_tokens_get_no_gradient() -> None:
    """A trajectory's tool output is context, not the policy's action: the loss must not push on it."""
    model, tokenizer = tiny()
    prompt = torch.tensor(tokenizer("7*8=?", add_special_tokens=False)["input_ids"])
    turn = tokenizer("<think>t</think>", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    result = tool_result_ids(tokenizer, [{"role": "tool", "content": "56"}])
    answer = tokenizer("<answer>56</answer>", add_special_tokens=False)["input_ids"] + [
        tokenizer.eos_token_id
    ]
    completion = torch.tensor(turn + result + answer)
    policy = torch.tensor([1] * len(turn) + [0] * len(result) + [1] * len(answer))
    ids, attention, mask = pack([prompt], [completion], tokenizer.pad_token_id, [policy])
    logits = token_logits(model, ids, attention).detach().requires_grad_(True)
    logp = gather_logprobs(logits, ids)
    loss, _ = clipped_loss(logp, logp.detach(), torch.tensor([1.0]), mask[:, 1:], 0.2)
    loss.backward()
    assert logits.grad is not None
    per_position = logits.grad.abs().sum(-1)[0]  # position t predicts token t + 1
    start = len(prompt) + len(turn) - 1
    tool_positions = range(start, start + len(result))
    assert all(float(per_position[t]) == 0.0 for t in tool_positions)
    assert float(per_position[start - 1]) > 0 and float(per_position[start + len(result)]) > 0
