"""Referee against the real OpenRLHF (0.11.2, installed by `make install-test` with `--no-deps`): its
own reward caller (`SingleTurnAgentExecutor`, remote URL and local `.py` modes), its conversion of
the answer into an `Experience`, and its dynamic-filtering rule with its default range. vLLM is not
installed (GPU only); a stand-in engine returns the response, and `vllm` is stubbed for the import.
"""

from __future__ import annotations

import ast
import asyncio
import sys
import types
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openrlhf
import pytest
from openrlhf.utils.agent import SingleTurnAgentExecutor

from clients.grpo.tiny import build_tokenizer
from tests.server_utils import free_port

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "What is 2+2? "
GROUP = ["<think>2+2=4</think> \\boxed{4}", "<think>2+2=5</think> \\boxed{5}"]  # one right, one wrong


class Engine:
    """Stands in for vLLM's engine: the 'generated' tokens are a fixed response."""

    def __init__(self, tokenizer: Any, response: str) -> None:
        self.ids = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]

    async def generate(
        self, prompt_token_ids: list[int], sampling_params: Any, multi_modal_data: Any = None
    ) -> Any:
        return SimpleNamespace(
            outputs=[SimpleNamespace(token_ids=self.ids, finish_reason="stop", logprobs=None)]
        )


def rollout(endpoint: str, response: str, label: str = "4") -> dict[str, Any]:
    """One sample through OpenRLHF's own executor, as its rollout actor runs it."""
    tokenizer = build_tokenizer()
    executor = SingleTurnAgentExecutor([endpoint])
    params = SimpleNamespace(max_tokens=128, logprobs=None)
    return asyncio.run(executor.execute(PROMPT, label, params, 512, tokenizer, Engine(tokenizer, response)))


def flat(value: Any) -> float:
    return float(value.item() if hasattr(value, "item") else value[0] if isinstance(value, list) else value)


@pytest.fixture
def endpoints(live_server: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("REFEREE_URL", live_server)
    return {"remote": f"{live_server}/get_reward", "local": str(ROOT / "clients" / "openrlhf.py")}


@pytest.mark.parametrize("mode", ["remote", "local"])
def test_openrlhf_scores_through_its_own_reward_caller(endpoints: dict[str, str], mode: str) -> None:
    right, wrong = (rollout(endpoints[mode], response) for response in GROUP)
    assert [flat(right["reward"]), flat(wrong["reward"])] == [2.0, 1.0]  # r1-math: math + format
    assert [flat(right["scores"]), flat(wrong["scores"])] == [1.0, 0.0]  # the primary component
    assert {name: flat(v) for name, v in right["extra_logs"].items()} == {"math": 1.0, "format": 1.0}


def default_filtering_range() -> tuple[float, float]:
    """The default of `--algo.dynamic_filtering_range`, read from OpenRLHF's own argument parser
    (it is built under `__main__`, so it cannot be imported)."""
    source = Path(openrlhf.__file__).parent / "cli" / "train_ppo_ray.py"
    for node in ast.walk(ast.parse(source.read_text())):
        is_call = (
            isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument" and node.args
        )
        if is_call and getattr(node.args[0], "value", None) == "--algo.dynamic_filtering_range":
            default = next(k.value for k in node.keywords if k.arg == "default")
            return ast.literal_eval(default)
    raise AssertionError("OpenRLHF no longer has --algo.dynamic_filtering_range")


def test_dynamic_filtering_keeps_mixed_groups_and_drops_uniform_ones(
    endpoints: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenRLHF keeps a prompt group when the mean of its `scores` is strictly inside the range."""
    stub = types.ModuleType("vllm")
    stub.__dict__.update(__version__="0.0.0", SamplingParams=object)
    inputs, utils = types.ModuleType("vllm.inputs"), types.ModuleType("vllm.utils")
    inputs.__dict__["TokensPrompt"] = dict
    utils.__dict__["random_uuid"] = lambda: "id"
    monkeypatch.setitem(sys.modules, "vllm", stub)
    monkeypatch.setitem(sys.modules, "vllm.inputs", inputs)
    monkeypatch.setitem(sys.modules, "vllm.utils", utils)
    from openrlhf.trainer.ppo_utils.samples_generator import SamplesGenerator

    low, high = default_filtering_range()
    assert (low, high) == (0, 1)

    def group_mean(responses: list[str]) -> float:
        experiences = [
            SamplesGenerator._process_response_into_experience(
                None, rollout(endpoints["remote"], r), max_len=512
            )
            for r in responses
        ]
        return sum(e.scores[0].item() for e in experiences) / len(experiences)

    assert low < group_mean(GROUP) < high  # right and wrong: a useful group, kept
    assert not low < group_mean([GROUP[0], GROUP[0]]) < high  # all right: no signal, dropped
    assert not low < group_mean([GROUP[1], GROUP[1]]) < high  # all wrong: dropped


def test_a_service_that_is_down_leaves_openrlhf_without_a_reward() -> None:
    """OpenRLHF's own behaviour, which the README warns about: after its 5 tries (1 s apart) the
    reward stays None, and its trainer then stops for want of a reward model."""
    out = rollout(f"http://127.0.0.1:{free_port()}/get_reward", GROUP[0])
    assert out["reward"] is None and out["scores"] is None
