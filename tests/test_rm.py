"""The chain-of-thought reward model: templates, verdicts, batching, OOM splitting, the service."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path

import httpx
import pytest
import torch
from jinja2.exceptions import SecurityError

from clients.grpo.tiny import build_model, build_tokenizer, save_tiny_model
from rm_models import DynamicBatcher, load_template, parse_verdict
from rm_models.verifier import GenerativeVerifier, Judgement, split_on_oom
from tests.server_utils import server_process

# A compact template: the tiny test model reads a few dozen characters, not a paragraph.
COMPACT = {
    "prompt": "Q:{{ question }} R:{{ reference }} A:{{ response }}",
    "decision_prefix": "Final Decision:",
    "verdict_pattern": "Final Decision:\\s*(Yes|No)",
    "labels": {"Yes": 1.0, "No": 0.0},
}


@pytest.mark.parametrize("preset", ["yes-no", "xverify", "compass"])
def test_presets_render_all_three_fields(preset: str) -> None:
    text = load_template(preset).render("What is 2+2?", "4", "It is four")
    assert "What is 2+2?" in text and "4" in text and "It is four" in text


def test_user_template_file_and_sandboxing(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(COMPACT))
    template = load_template(str(path))
    assert template.render("1+1", "2", "3") == "Q:1+1 R:2 A:3"
    evil = template.model_copy(update={"prompt": "{{ question.__class__.__mro__[1].__subclasses__() }}"})
    with pytest.raises(SecurityError):
        evil.render("x", "y", "z")
    with pytest.raises(ValueError, match="unknown template"):
        load_template("no-such-preset")


@pytest.mark.parametrize(
    ("preset", "text", "expected"),
    [
        ("yes-no", "The answers match. Final Decision: Yes", 1.0),
        ("yes-no", "Final Decision: **No**", 0.0),
        ("yes-no", "Final Decision: Yes ... wait. Final Decision: No", 0.0),  # the last verdict counts
        ("yes-no", "I think they are equal", None),
        ("yes-no", "Final Decision: Maybe", None),
        ("xverify", "The output matches. [Correct]", 1.0),
        ("xverify", "[Incorrect]", 0.0),
        ("compass", "A", 1.0),
        ("compass", "The grade is B", 0.0),
        ("compass", "C", 0.0),
        ("compass", "", None),
        ("compass", "\x00\xff garbage ###", None),
    ],
)
def test_verdict_parsing(preset: str, text: str, expected: float | None) -> None:
    assert parse_verdict(text, load_template(preset)) == expected


def test_batcher_groups_concurrent_callers_and_returns_each_its_own() -> None:
    sizes: list[int] = []

    def times_ten(batch: list[int]) -> list[int]:
        sizes.append(len(batch))
        return [x * 10 for x in batch]

    batcher = DynamicBatcher(times_ten, max_batch_size=8, max_wait_ms=300)
    results: dict[int, list[int]] = {}

    def caller(i: int) -> None:
        results[i] = batcher.map([i, i + 100])

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    batcher.close()
    assert results == {i: [i * 10, (i + 100) * 10] for i in range(4)}
    assert sizes == [8]  # four requests, one model batch


def test_out_of_memory_splits_the_batch() -> None:
    calls: list[int] = []

    def fits_two(batch: list[int]) -> list[int]:
        calls.append(len(batch))
        if len(batch) > 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return [x + 1 for x in batch]

    assert split_on_oom(fits_two, list(range(8)), lambda msg: msg) == list(range(1, 9))
    assert calls[0] == 8 and max(calls[1:]) <= 4

    def never_fits(batch: list[int]) -> list[int]:
        raise RuntimeError("out of memory")

    assert split_on_oom(never_fits, [1, 2], lambda msg: msg)[0].startswith(
        "out of memory even for a single item"
    )
    with pytest.raises(RuntimeError, match="shape"):
        split_on_oom(lambda b: (_ for _ in ()).throw(RuntimeError("shape mismatch")), [1], lambda m: m)


@pytest.fixture(scope="module")
def random_verifier(tmp_path_factory: pytest.TempPathFactory) -> tuple[GenerativeVerifier, Path]:
    directory = save_tiny_model(tmp_path_factory.mktemp("rm") / "model", seed=3)
    template = tmp_path_factory.mktemp("tpl") / "compact.json"
    template.write_text(json.dumps(COMPACT))
    return GenerativeVerifier(str(directory), str(template), mode="logprob", max_new_tokens=12), template


def test_complete_answers_chats_for_model_graders(random_verifier: tuple[GenerativeVerifier, Path]) -> None:
    """OpenAI-style model graders on a real (tiny, untrained) model: answers come back in the chats'
    order with token counts, and its gibberish is a parse-error flag, not a crash."""
    from service.grading.graders.config import ScoreModelGrader
    from service.grading.graders.engine import Backends, grade_batch, sample_namespace
    from service.runtime.verifiers import BatchedVerifier

    verifier, _ = random_verifier
    chats = [
        [{"role": "developer", "content": "Judge."}, {"role": "user", "content": "7" * n}]
        for n in (30, 1, 10)
    ]
    completions = verifier.complete(chats)
    prompts = [c.prompt_tokens for c in completions]
    assert prompts[0] > prompts[2] > prompts[1] > 0
    assert all(c.error is None and 0 < c.completion_tokens <= 12 for c in completions)
    batched = BatchedVerifier(verifier, max_batch_size=4, max_wait_ms=5)
    try:
        grader = ScoreModelGrader(
            type="score_model",
            name="j",
            model="m",
            input=[{"role": "user", "content": "{{ sample.output_text }}"}],
        )
        namespaces = [{"item": {}, "sample": sample_namespace(t)} for t in ("12", "345")]
        results = grade_batch(grader, namespaces, Backends(completer=batched))
    finally:
        batched.close()
    assert all(list(r.flags) == ["model_grader_parse_error"] and r.reward == 0.0 for r in results)
    assert all(r.token_usage and r.token_usage > 0 for r in results)


def test_batched_scores_equal_unbatched(random_verifier: tuple[GenerativeVerifier, Path]) -> None:
    verifier, _ = random_verifier
    judgements = [
        Judgement(f"{a}+{b}", str(a + b), "x" * (a % 4) + str(b)) for a in range(4) for b in range(3)
    ]
    batched = [v.score for v in verifier.score(judgements)]
    single = [verifier.score([j])[0].score for j in judgements]
    assert batched == pytest.approx(single, abs=1e-5)
    assert all(0.0 <= s <= 1.0 for s in batched)
    verifier.mode = "cot"
    texts_batched = [v.text for v in verifier.score(judgements[:4])]
    texts_single = [verifier.score([j])[0].text for j in judgements[:4]]
    verifier.mode = "logprob"
    assert texts_batched == texts_single
    assert verifier.describe() == {
        "model": verifier.name,
        "device": "cpu",
        "dtype": "torch.float32",
        "mode": "logprob",
        "template": "compact",
    }


def test_cot_rm_on_a_separate_reward_model_server(random_verifier: tuple[GenerativeVerifier, Path]) -> None:
    from tests.server_utils import running_server

    verifier, template = random_verifier
    env = {"REFEREE_RM_TEMPLATE": str(template), "REFEREE_RM_MODE": "logprob"}
    items = [{"prompt": f"{a}+1", "answer": str(a + 1), "completion": str(a)} for a in range(6)]
    expected = [
        v.score for v in verifier.score([Judgement(i["prompt"], i["answer"], i["completion"]) for i in items])
    ]
    with server_process("--only", "cot_rm", "--rm-model", verifier.name, env=env) as (remote, _):
        catalog = httpx.get(f"{remote}/v1/rewards", timeout=30).json()
        assert [r["name"] for r in catalog["rewards"]] == ["cot_rm"]
        refused = httpx.post(f"{remote}/v1/rewards", json={"rewards": {"math": 1}, "items": []}, timeout=30)
        assert refused.status_code == 422 and "only serves cot_rm" in refused.json()["detail"][0]["msg"]
        with running_server(rm_remote_url=remote) as main:
            info = {r["name"]: r for r in httpx.get(f"{main}/v1/rewards", timeout=30).json()["rewards"]}[
                "cot_rm"
            ]
            assert (
                info["available"] and info["info"]["remote"] == remote and info["info"]["mode"] == "logprob"
            )
            body = {"rewards": {"cot_rm": 1.0, "format": 0.0}, "items": items}
            results = httpx.post(f"{main}/v1/rewards", json=body, timeout=120).json()["results"]
    assert [r["scores"]["cot_rm"] for r in results] == pytest.approx(expected, abs=1e-5)


@pytest.mark.timeout(600)
def test_cot_rm_as_a_ray_deployment_matches_the_model(
    random_verifier: tuple[GenerativeVerifier, Path],
) -> None:
    """`referee serve --ray --rm-model`: the model is its own deployment (a GPU one where there is a GPU)."""
    pytest.importorskip("ray.serve")
    verifier, template = random_verifier
    env = {"REFEREE_RM_TEMPLATE": str(template), "REFEREE_RM_MODE": "logprob"}
    items = [{"prompt": f"{a}+2", "answer": str(a + 2), "completion": str(a)} for a in range(5)]
    expected = [
        v.score for v in verifier.score([Judgement(i["prompt"], i["answer"], i["completion"]) for i in items])
    ]
    args = ("--ray", "--replicas", "1", "--replica-cpus", "1", "--rm-model", verifier.name)
    with server_process(*args, env=env, timeout=300) as (url, _):
        info = {r["name"]: r for r in httpx.get(f"{url}/v1/rewards", timeout=60).json()["rewards"]}["cot_rm"]
        assert (
            info["available"]
            and info["info"]["deployment"] == "RewardModel"
            and info["info"]["device"] == "cpu"
        )
        body = {"rewards": {"cot_rm": 1.0}, "items": items}
        results = httpx.post(f"{url}/v1/rewards", json=body, timeout=300).json()["results"]
    assert [r["scores"]["cot_rm"] for r in results] == pytest.approx(expected, abs=1e-5)


def test_cot_rm_without_a_model_is_422(live_server: str) -> None:
    body = {"rewards": {"cot_rm": 1.0}, "items": [{"prompt": "q", "completion": "a", "answer": "a"}]}
    response = httpx.post(f"{live_server}/v1/rewards", json=body, timeout=30)
    assert response.status_code == 422
    assert "--rm-model" in response.json()["detail"][0]["msg"]


def test_a_missing_model_path_is_a_clear_startup_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "serve", "--port", "1", "--rm-model", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "cannot load the reward model" in result.stderr


def test_serving_only_cot_rm_without_a_model_does_not_start() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "serve", "--port", "1", "--only", "cot_rm"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert (
        "--only serves rewards that cannot run here: cot_rm: start the server with a verifier"
        in result.stderr
    )


def train_tiny_verifier(directory: Path, template: dict, steps: int = 1200, seed: int = 0) -> list[dict]:
    """Teach a tiny model the verifier task "is the response equal to the reference?" (1200 CPU steps,
    ~100 s on 2 cores). Returns held-out items whose questions it has never seen."""
    from rm_models.templates import VerifierTemplate

    random.seed(seed)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    model = build_model(tokenizer, hidden_size=128, layers=3, seed=seed)
    tpl = VerifierTemplate(name="compact", **template)
    problems = [(a, b) for a in range(10) for b in range(10)]
    random.shuffle(problems)
    train, held_out = problems[:80], problems[80:]

    def example(a: int, b: int) -> tuple[str, str, bool]:
        correct = random.random() < 0.5
        near = [a + b + d for d in (-3, -2, -1, 1, 2, 3) if a + b + d >= 0]
        answer = a + b if correct else random.choice(near + [x for x in range(19) if x != a + b])
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": tpl.render(f"{a}+{b}", str(a + b), str(answer))}],
            tokenize=False,
            add_generation_prompt=True,
        )
        # A short chain of thought: restate the two answers side by side, then decide.
        return prompt, f"{a + b} vs {answer}. Final Decision: {'Yes' if correct else 'No'}", correct

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(steps):
        batch = [example(*random.choice(train)) for _ in range(32)]
        rows = [
            tokenizer(p + t, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
            for p, t, _ in batch
        ]
        starts = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p, _, _ in batch]
        width = max(map(len, rows))
        ids = torch.full((len(rows), width), tokenizer.pad_token_id)
        mask = torch.zeros((len(rows), width))
        for i, (row, start) in enumerate(zip(rows, starts, strict=True)):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, start : len(row)] = 1
        logp = (
            torch.log_softmax(
                model(input_ids=ids, attention_mask=(ids != tokenizer.pad_token_id).long()).logits[:, :-1], -1
            )
            .gather(-1, ids[:, 1:].unsqueeze(-1))
            .squeeze(-1)
        )
        loss = -(logp * mask[:, 1:]).sum() / mask[:, 1:].sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    items = []
    for a, b in held_out:
        for wrong in (False, True):
            answer = a + b + (random.choice([-2, -1, 1, 2, 3]) if wrong else 0)
            items.append(
                {"prompt": f"{a}+{b}", "answer": str(a + b), "completion": str(answer), "correct": not wrong}
            )
    return items


@pytest.mark.slow
def test_trained_verifier_reaches_90_percent_through_the_http_api(tmp_path: Path) -> None:
    started = time.monotonic()
    held_out = train_tiny_verifier(tmp_path / "verifier", COMPACT)
    assert time.monotonic() - started < 300  # ~100 s on 2 cores
    template = tmp_path / "compact.json"
    template.write_text(json.dumps(COMPACT))
    env = {"REFEREE_RM_TEMPLATE": str(template), "REFEREE_RM_MAX_NEW_TOKENS": "40"}
    with server_process("--rm-model", str(tmp_path / "verifier"), env=env) as (url, _):
        info = {r["name"]: r for r in httpx.get(f"{url}/v1/rewards", timeout=30).json()["rewards"]}["cot_rm"]
        assert (
            info["available"] and info["info"]["device"] == "cpu" and info["info"]["dtype"] == "torch.float32"
        )
        items = [{k: v for k, v in item.items() if k != "correct"} for item in held_out]
        results = httpx.post(
            f"{url}/v1/rewards", json={"rewards": {"cot_rm": 1.0}, "items": items}, timeout=300
        ).json()["results"]
    verdicts = [r["scores"]["cot_rm"] for r in results]
    accuracy = sum((v == 1.0) == item["correct"] for v, item in zip(verdicts, held_out, strict=True)) / len(
        held_out
    )
    assert accuracy >= 0.9, (accuracy, verdicts)


def test_scalar_reward_model_for_comparison(tmp_path: Path) -> None:
    from transformers import LlamaForSequenceClassification

    from rm_models.verifier import ScalarRewardModel

    tokenizer = build_tokenizer()
    causal = build_model(tokenizer, seed=5)
    causal.config.num_labels = 1
    LlamaForSequenceClassification(causal.config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    model = ScalarRewardModel(str(tmp_path))
    judgements = [Judgement("1+1", "2", str(x)) for x in range(5)]
    batched = [v.score for v in model.score(judgements)]
    assert batched == pytest.approx([model.score([j])[0].score for j in judgements], abs=1e-5)
    assert len(set(round(v, 6) for v in batched)) > 1  # a real model output, not a constant
    assert model.describe()["mode"] == "scalar"
