"""Scored rollouts to training data: the recipes on hand-built groups, the rows TRL reads, the
endpoint, the command line, and TRL's SFTTrainer and DPOTrainer training on the files as written."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.selection.files import joined
from service.selection.recipes import ScoredItem, failed_rule, select
from service.selection.rows import summary_of, training_rows
from tests.server_utils import referee_command

WHERE = {"math": 1.0, "language": 0.99}


def scored(id: str, group: str, tokens: int, text: str, reward: float, **scores: float | None) -> ScoredItem:
    return ScoredItem(
        id=id,
        group=group,
        prompt=f"question {group}",
        completion=text,
        completion_tokens=tokens,
        scores={"math": 1.0, "language": 1.0, **scores},
        reward=reward,
    )


GROUPS = [
    scored("a1", "A", 40, "the long way round gives four in the end", 1.2),
    scored("a2", "A", 10, "two plus two is four", 1.1),
    scored("a3", "A", 20, "two plus two is five", 0.1, math=0.0),
    scored("a4", "A", 10, "Two plus two is four!", 1.1),  # a near-duplicate of a2
    scored("a5", "A", 12, "deux plus deux font quatre", 1.0, language=0.5),
    scored("b1", "B", 30, "no idea", 0.0, math=0.0),
    scored("b2", "B", 30, "still no idea", 0.0, math=None),
    scored("c1", "C", 50, "a correct but long answer about c", 1.0),
    scored("c2", "C", 20, "short correct c", 1.0),
]


def ids(indices: list[int]) -> list[str | None]:
    return [GROUPS[i].id for i in indices]


def test_rejection_keeps_the_best_passing_per_group_without_near_duplicates() -> None:
    selection = select(GROUPS, "rejection", WHERE, k=3)
    assert ids(selection.kept) == ["a1", "a2", "c1", "c2"]
    assert selection.dropped == {
        "math < 1": 2,
        "language < 0.99": 1,
        "no math score": 1,
        "near-duplicate": 1,
    }
    assert (selection.groups, selection.groups_without_rows) == (3, 1)
    assert select(GROUPS, "rejection", WHERE, k=2).dropped["beyond k=2"] == 1  # once k are kept, the rest
    assert ids(select(GROUPS, "rejection", WHERE, k=3, dedupe_threshold=None).kept) == [
        "a1",
        "a2",
        "a4",
        "c1",
        "c2",
    ]


def test_shortest_keeps_the_shortest_passing_answer() -> None:
    selection = select(GROUPS, "shortest", WHERE)
    assert ids(selection.kept) == ["a2", "c2"]
    summary = summary_of(GROUPS, selection)
    assert summary["rows"] == 2 and summary["length_unit"] == "tokens"
    assert summary["mean_length_after"] == 15.0
    assert summary["mean_length_before"] == pytest.approx(sum(i.completion_tokens or 0 for i in GROUPS) / 9)


def valid_pair(chosen: ScoredItem, rejected: ScoredItem, ratio: float) -> bool:
    failing = failed_rule(rejected.scores, WHERE) is not None
    long = (rejected.completion_tokens or 0) >= ratio * (chosen.completion_tokens or 0)
    return failed_rule(chosen.scores, WHERE) is None and (failing or long)


def test_pairs_are_short_correct_against_long_or_wrong_and_seeded() -> None:
    for seed in range(20):
        selection = select(GROUPS, "pairs", WHERE, max_pairs=2, min_length_ratio=1.5, seed=seed)
        by_id = [(GROUPS[c].id, GROUPS[r].id) for c, r in selection.pairs]
        assert by_id[0][0] == "a2" and by_id[-1] == ("c2", "c1")  # shortest passing first; 50 >= 1.5 x 20
        assert "a4" not in [c for c, _ in by_id]  # a near-duplicate of a2, the chosen before it
        used = [i for pair in selection.pairs for i in pair]
        assert len(used) == len(set(used))  # never chosen in one pair and rejected in another
        assert all(valid_pair(GROUPS[c], GROUPS[r], 1.5) for c, r in selection.pairs)
        assert (
            selection.pairs
            == select(GROUPS, "pairs", WHERE, max_pairs=2, min_length_ratio=1.5, seed=seed).pairs
        )
    choices = {tuple(select(GROUPS, "pairs", WHERE, max_pairs=2, seed=s).pairs) for s in range(12)}
    assert len(choices) > 1  # the seed decides among equal candidates
    strict = select(GROUPS, "pairs", WHERE, min_length_ratio=3.0).pairs
    assert [GROUPS[c].group for c, _ in strict] == ["A"]  # C: c1 is not 3x c2, and nothing in C failed


def test_an_item_is_in_one_pair_at_most() -> None:
    ladder = [scored(f"l{n}", "L", 10 * n, f"answer number {n} " * n, 1.0) for n in range(1, 5)]
    for seed in range(30):
        pairs = select(ladder, "pairs", WHERE, max_pairs=3, min_length_ratio=1.0, seed=seed).pairs
        used = [i for pair in pairs for i in pair]
        assert len(used) == len(set(used)) and len(pairs) == 2


def test_a_nan_score_or_threshold_never_passes() -> None:
    items = [scored("n1", "N", 5, "x", 1.0, math=float("nan")), scored("n2", "N", 9, "y", 1.0)]
    assert [items[i].id for i in select(items, "shortest", WHERE).kept] == ["n2"]
    assert failed_rule({"math": 1.0}, {"math": float("nan")}) == "math < nan"


def test_duplicates_are_judged_on_everything_the_policy_wrote() -> None:
    def chat(reasoning: str) -> ScoredItem:
        message = {"role": "assistant", "content": "The answer is 2.", "reasoning_content": reasoning}
        return ScoredItem(group="g", completion=[message], scores={"math": 1.0}, completion_tokens=10)

    items = [chat("one and one make two, counting on fingers"), chat("1+1 is 2 by the successor axiom")]
    assert len(select(items, "rejection", {"math": 1.0}, k=2).kept) == 2


def test_rows_are_what_trl_reads_in_both_forms() -> None:
    sft = training_rows(GROUPS, select(GROUPS, "shortest", WHERE))
    assert sft[0] == {"prompt": "question A", "completion": "two plus two is four"}
    pairs = training_rows(GROUPS, select(GROUPS, "pairs", WHERE, seed=1), meta=True)
    assert set(pairs[0]) >= {"prompt", "chosen", "rejected", "chosen_id", "rejected_scores"}
    chat = [
        ScoredItem(
            group="g",
            prompt=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
            completion=text,
            scores={"math": 1.0},
            completion_tokens=len(text),
        )
        for text in ("hello", "hello there, how are you doing today")
    ]
    [row] = training_rows(chat, select(chat, "pairs", {"math": 1.0}))
    assert row["prompt"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert row["chosen"] == [{"role": "assistant", "content": "hello"}]
    assert row["rejected"][0]["content"].startswith("hello there")


def test_tool_calls_become_objects_and_tools_a_column() -> None:
    tools = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]
    call = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'}}
    trajectory = [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "3"},
        {"role": "assistant", "content": "3"},
    ]
    items = [ScoredItem(group="g", prompt="1+2?", completion=trajectory, tools=tools, scores={"math": 1.0})]
    [row] = training_rows(items, select(items, "shortest", {"math": 1.0}))
    assert row["tools"] == tools
    assert row["completion"][0]["tool_calls"][0]["function"]["arguments"] == {"a": 1, "b": 2}
    assert "content" not in row["completion"][0]  # no `content: null` for templates to trip on
    assert row["prompt"] == [{"role": "user", "content": "1+2?"}]


def test_lengths_fall_back_to_characters_and_say_so() -> None:
    items = [ScoredItem(group="g", completion=text, scores={"math": 1.0}) for text in ("aaaa", "aa")]
    selection = select(items, "shortest", {"math": 1.0})
    assert [items[i].completion for i in selection.kept] == ["aa"] and selection.unit == "characters"


def test_join_by_id_or_by_line_and_clear_errors() -> None:
    items = [{"id": "x", "completion": "a"}, {"id": "y", "completion": "b"}]
    results = [
        {"id": "y", "reward": 1.0, "scores": {"math": 1.0}},
        {"id": "x", "reward": 0.0, "scores": {"math": 0.0}},
    ]
    assert [i.scores["math"] for i in joined(items, results)] == [0.0, 1.0]
    anonymous = [{"completion": "a"}, {"completion": "b"}]
    assert [i.reward for i in joined(anonymous, results)] == [1.0, 0.0]
    with pytest.raises(ValueError, match="no ids to join on"):
        joined(anonymous, results[:1])
    with pytest.raises(ValueError, match="item 1: completion"):
        joined([{"prompt": "no completion"}], None)


def test_the_endpoint(live_server: str) -> None:
    body: dict[str, Any] = {
        "recipe": "shortest",
        "where": WHERE,
        "items": [item.model_dump(exclude_none=True) for item in GROUPS],
    }
    response = httpx.post(f"{live_server}/v1/select", json=body, timeout=60).json()
    assert [row["completion"] for row in response["rows"]] == ["two plus two is four", "short correct c"]
    assert response["summary"]["dropped"]["math < 1"] == 2
    bad = httpx.post(f"{live_server}/v1/select", json={**body, "recipe": "best"}, timeout=60)
    assert bad.status_code == 422 and "recipe" in bad.text
    chars = [{"completion": "x", "scores": {"math": 1}}]
    tokenizer = httpx.post(
        f"{live_server}/v1/select",
        json={"recipe": "shortest", "items": chars, "tokenizer": "/no/such/tokenizer"},
        timeout=60,
    )
    assert tokenizer.status_code == 422 and "tokenizer" in tokenizer.text
    nan = httpx.post(
        f"{live_server}/v1/select",
        content=json.dumps({**body, "where": {"math": float("nan")}}),
        headers={"content-type": "application/json"},
        timeout=60,
    )
    assert nan.status_code == 422 and "where" in nan.text


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def referee(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(referee_command(*args), capture_output=True, text=True, timeout=300)


def test_the_command_line_joins_referee_score_output(tmp_path: Path) -> None:
    items = write_jsonl(
        tmp_path / "items.jsonl",
        [item.model_dump(exclude_none=True, exclude={"scores", "reward"}) for item in GROUPS],
    )
    results = write_jsonl(
        tmp_path / "items.scored.jsonl",
        [{"id": i.id, "reward": i.reward, "scores": i.scores, "errors": {}} for i in reversed(GROUPS)],
    )
    out = tmp_path / "sft.jsonl"
    done = referee(
        "select",
        str(items),
        "--scores",
        str(results),
        "--recipe",
        "shortest",
        "--where",
        "math=1,language=0.99",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["completion"] for line in out.read_text().splitlines()] == [
        "two plus two is four",
        "short correct c",
    ]
    assert '"groups": 3' in done.stderr
    broken = referee("select", str(items), "--scores", str(tmp_path / "missing.jsonl"), "--out", str(out))
    assert broken.returncode == 2 and broken.stderr.startswith("error: ") and "Traceback" not in broken.stderr
    assert "missing.jsonl" in broken.stderr
    short = write_jsonl(tmp_path / "short.scored.jsonl", [{"id": "a1", "scores": {"math": 1.0}}])
    cut = referee("select", str(items), "--scores", str(short), "--out", str(out))
    assert cut.returncode == 2 and "no scores for items a2, a3" in cut.stderr
    assert referee("select", str(items), "--k", "0", "--out", str(out)).returncode == 2


def rollouts() -> list[dict[str, Any]]:
    """Groups of four completions per question, some right and short, some right and long, some wrong."""
    rows = []
    for a in range(3):
        for b in range(4):
            right, wrong = a + b, a + b + 1
            for n, answer in enumerate([right, right, wrong, right]):
                padding = " and so on" * (3 * n)
                rows.append(
                    {
                        "id": f"{a}{b}-{n}",
                        "group": f"{a}+{b}",
                        "prompt": f"What is {a}+{b}?",
                        "completion": f"<think>{a} plus {b}{padding}</think> {answer}",
                        "answer": str(right),
                    }
                )
    return rows


def select_both(items: Path, scores: Path, directory: Path) -> tuple[Path, Path]:
    """`referee select` as a user runs it: the shortest right answers (SFT) and long2short pairs (DPO)."""
    sft, dpo = directory / f"{items.stem}_sft.jsonl", directory / f"{items.stem}_dpo.jsonl"
    for recipe, out in (("shortest", sft), ("pairs", dpo)):
        done = referee(
            "select",
            str(items),
            "--scores",
            str(scores),
            "--recipe",
            recipe,
            "--where",
            "math=1",
            "--out",
            str(out),
        )
        assert done.returncode == 0, done.stderr
    return sft, dpo


def train_one_step(trl: Any, datasets: Any, model: str, kind: str, data: Path, out: Path) -> None:
    """TRL's own trainer (`SFT` or `DPO`) reads the file as written and takes one step."""
    config = getattr(trl, f"{kind}Config")(
        output_dir=str(out),
        max_length=128,
        max_steps=1,
        per_device_train_batch_size=4,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        bf16=False,
    )
    dataset = datasets.load_dataset("json", data_files=str(data), split="train")
    trainer = getattr(trl, f"{kind}Trainer")(model=model, train_dataset=dataset, args=config)
    trainer.train()
    assert trainer.state.global_step == 1
    assert math.isfinite(trainer.state.log_history[-1]["train_loss"])


@pytest.mark.slow
def test_trl_trains_on_the_selected_files(live_server: str, tmp_path: Path) -> None:
    """The whole path: `referee score` against a live server, `referee select`, then TRL's SFTTrainer
    and DPOTrainer each train one step on the files as written, in plain text and in chat form."""
    datasets = pytest.importorskip("datasets")
    trl = pytest.importorskip("trl")
    from clients.grpo.tiny import save_tiny_model

    items = write_jsonl(tmp_path / "rollouts.jsonl", rollouts())
    scoring = referee("score", str(items), "--rewards", "math=1,format=0.1", "--url", live_server)
    assert scoring.returncode == 0, scoring.stderr
    scores = tmp_path / "rollouts.scored.jsonl"
    sft, dpo = select_both(items, scores, tmp_path)
    right = {row["prompt"]: row["answer"] for row in rollouts()}
    sft_rows = [json.loads(line) for line in sft.read_text().splitlines()]
    assert len(sft_rows) == 12  # one per question
    for row in sft_rows:  # the shortest right one: no padding, the right sum
        assert row["completion"].endswith(f" {right[row['prompt']]}") and "and so on" not in row["completion"]
    dpo_rows = [json.loads(line) for line in dpo.read_text().splitlines()]
    assert len(dpo_rows) == 12
    for row in dpo_rows:  # chosen: short and right; rejected: wrong, or right and at least 1.5x longer
        assert "and so on" not in row["chosen"] and row["chosen"].endswith(f" {right[row['prompt']]}")
        wrong = not row["rejected"].endswith(f" {right[row['prompt']]}")
        assert wrong or len(row["rejected"]) >= 1.5 * len(row["chosen"])

    # The conversational form: chat prompts give message rows, which TRL runs through the chat template.
    system = {"role": "system", "content": "Add."}
    chats = [{**row, "prompt": [system, {"role": "user", "content": row["prompt"]}]} for row in rollouts()]
    chat_sft, chat_dpo = select_both(write_jsonl(tmp_path / "chat.jsonl", chats), scores, tmp_path)
    first = json.loads(chat_dpo.read_text().splitlines()[0])
    assert first["prompt"][0] == system and first["chosen"][0]["role"] == "assistant"

    model = str(save_tiny_model(tmp_path / "model"))
    for kind, data in (("SFT", sft), ("DPO", dpo), ("SFT", chat_sft), ("DPO", chat_dpo)):
        train_one_step(trl, datasets, model, kind, data, tmp_path / f"out-{data.stem}")
