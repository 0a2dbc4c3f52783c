"""The trainer's multi-turn mode against a real server: the policy's turns are scripted (a tiny random
model would not call a tool), everything else is real: Referee runs the calls, the results come back
as masked tokens, the trajectories are scored as trajectories, and a GRPO step trains on them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import clients.grpo.agent as agent
from clients.grpo.config import TrainConfig
from clients.grpo.tasks import calculator_call
from clients.grpo.trainer import GRPOTrainer


def scripted_turns(tokenizer, contexts, max_new_tokens, temperature):  # noqa: ANN001, ANN201
    """First turn: call the calculator on the prompt's expression (one row in four writes broken
    JSON); second turn: answer with what the tool said."""
    turns = []
    for row, context in enumerate(contexts):
        text = tokenizer.decode(context, skip_special_tokens=True)
        if "<tool_response>" not in text:
            expression = text.split("=?")[0]
            call = (
                calculator_call(expression) if row % 4 else '<tool_call>{"name": "calculator", </tool_call>'
            )
            reply = f"<think>use it</think>{call}"
        else:
            result = text.rsplit("<tool_response>", 1)[1].split("</tool_response>")[0]
            reply = f"<think>so</think><answer>{0 if result.startswith('error') else result}</answer>"
        ids = tokenizer(reply, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        turns.append(torch.tensor(ids))
    return turns


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        agent, "generate_from_ids", lambda model, tokenizer, *args: scripted_turns(tokenizer, *args)
    )


def test_multi_turn_rollouts_scoring_and_a_step(live_server: str, tmp_path: Path, scripted: None) -> None:
    config = TrainConfig(
        model="tiny",
        output_dir=tmp_path / "run",
        referee_url=live_server,
        task="multiplication_tool",
        eval_size=8,
        eval_every=1,
        max_turns=3,
        rewards={"final_answer": 1.0, "tool_call_validity": 0.5},
        params={"final_answer": {"from": "tag:answer", "match": "exact"}},
        steps=1,
        prompts_per_step=2,
        group_size=4,
        max_new_tokens=120,
        learning_rate=1e-3,
        seed=0,
    )
    trainer = GRPOTrainer(config)
    assert [tool["function"]["name"] for tool in trainer.tools or []] == ["python", "calculator"]
    (group,) = trainer.generate([trainer.problems[0]], 4, 1.0)
    assert group.messages is not None and group.masks is not None
    good = group.messages[1]  # row 1 calls correctly
    assert [m["role"] for m in good] == ["assistant", "tool", "assistant"]
    a, b = (int(x) for x in trainer.problems[0].prompt.removesuffix("=?").split("*"))
    assert good[1]["content"] == str(a * b) and good[2]["content"].endswith(f"<answer>{a * b}</answer>")
    broken = group.messages[0]  # row 0 wrote broken JSON: Referee answers with an error, the policy goes on
    assert broken[1]["content"].startswith("error:")
    mask = group.masks[1].tolist()
    result_tokens = agent.tool_result_ids(trainer.tokenizer, [good[1]])
    first_turn = mask.index(0)
    assert mask[first_turn : first_turn + len(result_tokens)] == [0] * len(result_tokens)
    assert sum(mask) == len(mask) - len(result_tokens)

    history = trainer.train()
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert rows == history
    step = rows[0]
    assert step["valid_call_rate"] == 0.75 and step["assistant_turns"] == 2.0
    assert step["reward/tool_call_validity"] == 0.75 and step["reward/final_answer"] == 0.75
    assert step["eval/valid_call_rate"] == 0.75 and step["eval/accuracy"] == 0.75
    assert isinstance(step["sample"], list)  # a trajectory, as chat messages
