"""Multi-turn rollouts with tools: the policy writes a turn (until EOS), Referee runs the tool calls in it
(`POST /v1/tools/call`), the tool results are appended, and the policy goes on, up to `max_turns`.

Each trajectory is kept twice: as token ids with a mask (1 on tokens the policy wrote, 0 on the prompt
and on tool results, so tool output never enters the loss) and as chat messages (`assistant` turns and
`tool` results) for Referee's trajectory rewards.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from clients.grpo.rollout import Group, generate_from_ids

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

ToolRunner = Callable[[dict[str, Any]], list[dict[str, Any]]]


def render_tool_result(content: str) -> str:
    """How a tool result is shown to the policy (Qwen's / Hermes' wrapping)."""
    return f"<tool_response>{content}</tool_response>"


@dataclass
class Trajectory:
    prompt_ids: list[int]
    ids: list[int] = field(default_factory=list)  # everything after the prompt
    mask: list[int] = field(default_factory=list)  # 1 where the policy wrote the token
    messages: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False

    def append(self, ids: list[int], by_policy: bool) -> None:
        self.ids += ids
        self.mask += [int(by_policy)] * len(ids)


def makes_a_call(text: str) -> bool:
    return "<tool_call>" in text


def last_assistant_text(messages: list[dict[str, Any]]) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "assistant"), "")


def tool_result_ids(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, Any]]) -> list[int]:
    text = "".join(render_tool_result(str(message.get("content", ""))) for message in messages)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def agent_groups(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    group_size: int,
    max_new_tokens: int,
    temperature: float | None,
    max_turns: int,
    run_tools: ToolRunner,
) -> list[Group]:
    """`group_size` trajectories per prompt, every active trajectory's next turn in one `generate`
    call, the turns' tool calls run concurrently."""
    trajectories = [
        Trajectory(list(tokenizer(prompt, add_special_tokens=False)["input_ids"]))
        for prompt in prompts
        for _ in range(group_size)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for turn_number in range(max_turns):
            active = [t for t in trajectories if not t.done]
            if not active:
                break
            turns = generate_from_ids(
                model, tokenizer, [t.prompt_ids + t.ids for t in active], max_new_tokens, temperature
            )
            texts = tokenizer.batch_decode(turns, skip_special_tokens=True)
            calling = []
            for trajectory, turn, text in zip(active, turns, texts, strict=True):
                trajectory.append(turn.tolist(), by_policy=True)
                trajectory.messages.append({"role": "assistant", "content": text})
                ended = bool(len(turn)) and int(turn[-1]) == tokenizer.eos_token_id
                if makes_a_call(text) and ended and turn_number < max_turns - 1:
                    calling.append(trajectory)
                else:
                    trajectory.done = True  # an answer, no call, out of tokens, or out of turns
            for trajectory, results in zip(
                calling, pool.map(run_tools, [t.messages[-1] for t in calling]), strict=True
            ):
                trajectory.messages += results
                trajectory.append(tool_result_ids(tokenizer, results), by_policy=False)
    return [
        Group(
            torch.tensor(chunk[0].prompt_ids, dtype=torch.long),
            [torch.tensor(t.ids, dtype=torch.long) for t in chunk],
            [last_assistant_text(t.messages) for t in chunk],
            masks=[torch.tensor(t.mask, dtype=torch.long) for t in chunk],
            messages=[t.messages for t in chunk],
        )
        for chunk in (trajectories[i : i + group_size] for i in range(0, len(trajectories), group_size))
    ]
