"""The verl adapter against the real verl (0.9.1, installed by `make install-test` with `--no-deps`):
its config composition, its reward-loop worker and managers, its legacy managers, on CPU with a
locally built tokenizer and a live Referee. A new verl release that breaks the adapter fails here.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import torch
from verl import DataProto
from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

import clients.verl as adapter
from clients.client import RefereeError
from clients.grpo.tiny import build_tokenizer
from tests.peers.verl_utils import make_dataproto, readme_overrides, verl_config
from tests.server_utils import free_port, server_process

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = ["What is 2+2?", "What is 3+3?"]
# Two rollout groups of two: a short right answer, a long right one; a short wrong one, a long right one.
RESPONSES = [
    "<think>2+2=4</think> \\boxed{4}",
    "<think>two plus two, so four, check: 2+2 is 4</think> \\boxed{4}",
    "<think>3+3=7</think> \\boxed{7}",
    "<think>three and three make six; checked twice</think> \\boxed{6}",
]
GOLDS = ["4", "4", "6", "6"]


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """verl loads the policy tokenizer from `actor_rollout_ref.model.path`: a local one, no hub."""
    directory = tmp_path_factory.mktemp("tokenizer")
    build_tokenizer().save_pretrained(directory)
    return str(directory)


@pytest.fixture(autouse=True)
def referee_env(live_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFEREE_URL", live_server)
    monkeypatch.delenv("REFEREE_REWARDS", raising=False)
    monkeypatch.setenv("REFEREE_PROFILE", "r1-math")


def batch(tokenizer_dir: str) -> DataProto:
    prompts = [PROMPTS[i // 2] for i in range(len(RESPONSES))]
    return make_dataproto(tokenizer_dir, prompts, RESPONSES, GOLDS, group_size=2)


def direct(live_server: str, profile: str) -> list[dict[str, Any]]:
    """What one direct request with the right groups scores: the values verl must see."""
    items = [
        {"completion": r, "answer": g, "group": str(i // 2), "prompt": PROMPTS[i // 2]}
        for i, (r, g) in enumerate(zip(RESPONSES, GOLDS, strict=True))
    ]
    response = httpx.post(f"{live_server}/v1/rewards", json={"profile": profile, "items": items}, timeout=60)
    return response.json()["results"]


def run_worker(config: Any, data: DataProto) -> tuple[list[float], torch.Tensor, list[dict[str, Any]]]:
    asyncio.set_event_loop(asyncio.new_event_loop())  # the worker runs on the thread's current loop
    worker = RewardLoopWorker(config)
    outputs = worker.loop.run_until_complete(worker.compute_score_batch(data))
    scores = [output["reward_score"] for output in outputs]
    placed = type(worker.reward_manager).assemble_rm_scores(data, scores)
    return scores, placed, [output["reward_extra_info"] for output in outputs]


@pytest.mark.parametrize("name", ["compute_score", "compute_score_async"])
@pytest.mark.parametrize("path", ["pkg://clients.verl", str(ROOT / "clients" / "verl.py")])
def test_reward_loop_with_the_readme_keys(tokenizer_dir: str, live_server: str, name: str, path: str) -> None:
    config = verl_config(tokenizer_dir, *readme_overrides(name, path))
    scores, placed, extra = run_worker(config, batch(tokenizer_dir))
    expected = direct(live_server, "r1-math")
    assert scores == [r["reward"] for r in expected] == [2.0, 2.0, 1.0, 2.0]
    response_mask = batch(tokenizer_dir).batch["attention_mask"][:, -placed.shape[1] :]
    last = response_mask.sum(-1) - 1
    for row, (position, score) in enumerate(zip(last.tolist(), scores, strict=True)):
        assert placed[row, position].item() == score  # the reward sits on the last response token
        assert placed[row].abs().sum().item() == abs(score)
    assert [sorted(e) for e in extra] == [["format", "math", "score"]] * 4  # same keys for every sample


def test_legacy_top_level_keys_are_ignored_by_verl_0_9(tokenizer_dir: str) -> None:
    """Why the README uses `reward.*`: the old keys compose without error and are never read."""
    config = verl_config(tokenizer_dir, "custom_reward_function.path=pkg://clients.verl")
    assert config.reward.custom_reward_function.path is None


def test_group_rewards_through_the_per_sample_api(tokenizer_dir: str, live_server: str) -> None:
    """kimi-math's length penalty needs each rollout group together: the adapter derives the group
    from verl's `extra_info` (`index`) and coalesces the concurrent per-sample calls."""
    overrides = [
        *readme_overrides("compute_score_async"),
        "+reward.custom_reward_function.reward_kwargs.referee_profile=kimi-math",
    ]
    _, _, extra = run_worker(verl_config(tokenizer_dir, *overrides), batch(tokenizer_dir))
    expected = direct(live_server, "kimi-math")
    assert [e["length"] for e in extra] == [r["scores"]["length"] for r in expected] == [0.5, -0.5, 0.0, -0.5]
    assert [e["math"] for e in extra] == [1.0, 1.0, 0.0, 1.0]


def test_group_from_question_and_uid() -> None:
    info = {"question": "What is 2+2?"}
    assert adapter.to_item("gsm8k", "x", "4", info)["group"] == "gsm8k/What is 2+2?"
    assert adapter.to_item("gsm8k", "x", "4", {"index": 7, "split": "train"})["group"] == "gsm8k/train/7"
    assert adapter.to_item("gsm8k", "x", "4", info, uid="u-1")["group"] == "u-1"


@pytest.mark.parametrize(
    ("manager_name", "function"),
    [
        ("batch", adapter.compute_score_batch),  # one call per batch, numpy object arrays
        ("prime", adapter.compute_score_float),  # positional calls in a process pool, needs a number
    ],
)
def test_legacy_managers(tokenizer_dir: str, live_server: str, manager_name: str, function: Any) -> None:
    from transformers import AutoTokenizer
    from verl.workers.reward_manager import get_reward_manager_cls

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    manager = get_reward_manager_cls(manager_name)(tokenizer=tokenizer, num_examine=0, compute_score=function)
    out = manager(batch(tokenizer_dir), return_dict=True)
    assert out["reward_tensor"].sum(-1).tolist() == [r["reward"] for r in direct(live_server, "r1-math")]


def test_remote_manager_ships_the_path_loaded_adapter_to_ray(tokenizer_dir: str, live_server: str) -> None:
    import ray

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        runtime_env={
            "env_vars": {"PYTHONPATH": str(ROOT), "REFEREE_URL": live_server, "REFEREE_PROFILE": "r1-math"}
        },
    )
    try:
        config = verl_config(
            tokenizer_dir, *readme_overrides("compute_score", str(ROOT / "clients" / "verl.py"), "remote")
        )
        scores, _, _ = run_worker(config, batch(tokenizer_dir))
    finally:
        ray.shutdown()
    assert scores == [r["reward"] for r in direct(live_server, "r1-math")]


def test_input_forms_verl_datasets_use(live_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFEREE_REWARDS", "math:1")  # the `:` form works as well as `=`
    info = {
        "index": np.int64(3),
        "id": {"not": "a referee id"},
        "score": np.float32(0.5),
        "tags": np.array([1, 2]),
    }
    result = adapter.compute_score("gsm8k", "so \\boxed{four}", np.array(["4", "four"], dtype=object), info)
    assert result == {"score": 1.0, "math": 1.0}  # several accepted answers; numpy and `id` do not break it
    item = adapter.to_item("gsm8k", "x", "4", info)
    assert item["extra_info_id"] == {"not": "a referee id"} and item["tags"] == [1, 2] and item["index"] == 3

    code = "```python\nprint(int(input()) * 2)\n```"
    truth = (
        '{"inputs": ["2", "5"], "outputs": ["4", "10"]}'  # a code dataset's ground truth, as a JSON string
    )
    assert adapter.compute_score("codecontests", code, truth, {}, referee_rewards="code=1") == {
        "score": 1.0,
        "code": 1.0,
    }
    with pytest.raises(ValueError, match="math=1"):
        adapter.selection({"referee_rewards": "math=one"})


@pytest.fixture
def restartable() -> Iterator[tuple[str, list[Any]]]:
    """`referee serve` on a fixed port, which a test may stop and start again."""
    port = free_port()
    servers: list[Any] = []
    contexts = []

    def start() -> None:
        context = server_process("--only", "math,format", port=port)
        contexts.append(context)
        servers.append(context.__enter__()[1])

    start()
    try:
        yield f"http://127.0.0.1:{port}", [start, servers]
    finally:
        for context in contexts:
            context.__exit__(None, None, None)


def test_a_restart_of_the_service_is_ridden_out(
    restartable: tuple[str, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, (start, servers) = restartable
    monkeypatch.setenv("REFEREE_URL", url)
    assert adapter.compute_score("gsm8k", "\\boxed{4}", "4", {})["math"] == 1.0
    servers[-1].send_signal(signal.SIGTERM)
    servers[-1].wait(60)
    threading.Timer(4.0, start).start()  # back 4 s later, as a restarted pod would be
    started = time.monotonic()
    assert adapter.compute_score("gsm8k", "\\boxed{5}", "4", {})["math"] == 0.0
    assert time.monotonic() - started >= 4.0


def test_a_service_that_stays_down_fails_loudly_within_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFEREE_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("REFEREE_RETRY_BUDGET_S", "2")
    started = time.monotonic()
    with pytest.raises(RefereeError, match="cannot reach"):
        adapter.compute_score("gsm8k", "\\boxed{4}", "4", {})
    assert time.monotonic() - started < 10
