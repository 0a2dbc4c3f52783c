"""The reward inspector's recording: the store on real SQLite and a real PostgreSQL server, the
recorder (never slows or fails scoring), recording through a running server, SIGKILL durability,
the page's key, and `referee inspect`."""

from __future__ import annotations

import json
import os
import signal
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from service.inspector.recorder import DROPPED, Recorder, RecordOptions
from service.inspector.store import ItemFilter, ScoredItem, ScoredRequest, Store, sqlite_url
from tests.helpers import skip_loudly
from tests.postgres import PostgresServer
from tests.server_utils import server_process, wait_for


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer()
    except (RuntimeError, OSError, KeyError) as exc:
        skip_loudly("PostgreSQL", exc)
    yield server
    server.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "records.sqlite")
    else:
        url = request.getfixturevalue("postgres").new_database()
    opened = Store(url)
    opened.migrate()
    yield opened
    opened.close()


def batch(run: str, step: int, groups: int = 2, size: int = 4) -> ScoredRequest:
    """`size` items per group; item i of a group is right when i is odd, and the last one is an
    empty completion that `format` could not score."""
    items = []
    for g in range(groups):
        for i in range(size):
            right = i % 2 == 1
            empty = i == size - 1
            items.append(
                ScoredItem(
                    item_id=f"{step}-{g}-{i}",
                    group=f"{step}-{g}",
                    prompt=f"What is {g} + {step}?",
                    completion=""
                    if empty
                    else f"<think>step {step}</think> The answer is {g + step + (0 if right else 1)}",
                    chat=False,
                    answer=str(g + step),
                    reward=(1.0 if right else 0.0) + (0.0 if empty else 0.1),
                    length=0 if empty else 40 + i,
                    scores={"math": 1.0 if right else 0.0, "format": None if empty else 1.0},
                    errors={"format": "no_answer: empty completion"} if empty else {},
                )
            )
    return ScoredRequest(time.time(), run, step, {"math": 1.0, "format": 0.1}, {}, None, 12.5, items)


def test_store_round_trip(store: Store) -> None:
    assert store.schema_version() == "0001"
    store.migrate()  # idempotent
    store.write([batch("alpha", step) for step in range(3)] + [batch("beta", 0)])
    runs = {run["run"]: run for run in store.runs()}
    assert runs["alpha"]["items"] == 24 and runs["alpha"]["requests"] == 3 and runs["alpha"]["steps"] == 2

    series = store.series("alpha")
    assert series["steps"] == [0, 1, 2] and series["items"] == [8, 8, 8]
    expected_mean = statistics.fmean(item.reward for item in batch("alpha", 0).items)
    assert series["reward"] == pytest.approx([expected_mean] * 3)
    assert series["components"]["math"] == pytest.approx([0.5] * 3)
    assert series["components"]["format"] == pytest.approx([1.0] * 3)  # nulls are not averaged
    assert series["null_rate"] == {"no_answer": pytest.approx([2 / 16] * 3)}  # of the component scores
    assert series["items_per_s"] == pytest.approx([8 / 0.0125] * 3)
    assert series["latency_ms"] == pytest.approx([12.5] * 3)

    right = store.items(ItemFilter(run="alpha", component="math", score_min=1))
    assert right["total"] == 12 and all(item["scores"]["math"] == 1.0 for item in right["items"])
    failed = store.items(ItemFilter(run="alpha", error_kind="no_answer"))
    assert failed["total"] == 6 and all(
        item["errors"]["format"].startswith("no_answer") for item in failed["items"]
    )
    assert store.items(ItemFilter(run="alpha", group="1-0"))["total"] == 4
    containing = [i for s in range(3) for i in batch("alpha", s).items if "is 2" in i.completion + i.prompt]
    assert store.items(ItemFilter(run="alpha", text="is 2"))["total"] == len(containing) > 0
    assert store.items(ItemFilter(run="alpha", text="THE ANSWER"))["total"] == 18  # any case
    assert (
        store.items(ItemFilter(run="alpha", text="_"))["total"] == 0
    )  # a literal underscore, not a wildcard
    by_length = store.items(ItemFilter(run="alpha", sort="length", limit=5))["items"]
    assert [item["length"] for item in by_length] == sorted(item["length"] for item in by_length)
    assert store.items(ItemFilter(run="alpha", limit=5, offset=20))["items"][-1]["pk"] > 0

    pk = right["items"][0]["pk"]
    group = store.group(pk)
    assert group is not None and len(group["items"]) == 4
    rewards = [member["reward"] for member in group["items"]]
    assert rewards == sorted(rewards, reverse=True)
    assert sum(member["advantage"] for member in group["items"]) == pytest.approx(0.0, abs=1e-9)
    assert store.values("alpha", "math").count(1.0) == 12

    # math says right, format could not score: where two rewards disagree
    assert all(
        item["scores"]["math"] >= 0.5 and (item["scores"]["format"] or 0) < 0.5
        for item in store.disagreements("alpha", "math", "format")
    )
    assert store.short_and_rewarded("alpha")[0]["reward"] == max(rewards)
    assert store.components("alpha") == ["format", "math"] and store.error_kinds("alpha") == ["no_answer"]


def test_retention(store: Store) -> None:
    old = batch("alpha", 0)
    old.time -= 3600
    store.write([old, batch("alpha", 1), batch("alpha", 2)])
    store.prune(max_rows=None, max_age_s=600)
    assert store.series("alpha")["steps"] == [1, 2]
    store.prune(max_rows=8, max_age_s=None)
    assert store.series("alpha")["steps"] == [2]
    assert store.items(ItemFilter(run="alpha"))["total"] == 8


class SlowStore:
    """Stands in for a database that takes 0.5 s per write."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, records: list[ScoredRequest]) -> int:
        time.sleep(0.5)
        self.written += sum(len(r.items) for r in records)
        return self.written

    def close(self) -> None: ...


def reward_exchange(n_items: int = 8) -> tuple[object, object]:
    from service.api.schemas import ItemResult, RewardRequest, RewardResponse

    request = RewardRequest.model_validate(
        {
            "rewards": {"math": 1},
            "items": [{"completion": "x" * 50, "group": f"g{i // 4}"} for i in range(n_items)],
        }
    )
    response = RewardResponse(
        results=[ItemResult(id=str(i), reward=1.0, scores={"math": 1.0}, errors={}) for i in range(n_items)],
        elapsed_ms=1.0,
    )
    return request, response


def test_the_recorder_never_waits_and_counts_what_it_drops() -> None:
    request, response = reward_exchange()
    recorder = Recorder(SlowStore(), RecordOptions(queue_items=16))  # type: ignore[arg-type]
    before = DROPPED.labels("queue_full")._value.get()
    started = time.perf_counter()
    for _ in range(20):
        recorder.offer(request, response, "run", 1)  # type: ignore[arg-type]
    assert time.perf_counter() - started < 0.2  # never waits for the database
    assert DROPPED.labels("queue_full")._value.get() - before >= 8 * 15  # 2 batches queue, 1 is written
    recorder.close()


def test_a_database_outage_drops_records_not_requests(tmp_path: Path) -> None:
    request, response = reward_exchange()
    store = Store("postgresql+psycopg://nobody@127.0.0.1:9/none")  # nothing listens on port 9
    recorder = Recorder(store)  # as if it had been up at start
    before = DROPPED.labels("database_error")._value.get()
    recorder.offer(request, response, "run", 1)  # type: ignore[arg-type]
    assert recorder.flush(30)
    assert DROPPED.labels("database_error")._value.get() - before == 8
    recorder.close()


def test_sampling_keeps_whole_groups_and_long_texts_are_cut(tmp_path: Path) -> None:
    from service.api.schemas import ItemResult, RewardRequest, RewardResponse

    store = Store(sqlite_url(tmp_path / "s.sqlite"))
    store.migrate()
    items = [{"completion": "y" * 500, "group": f"g{i // 4}", "prompt": "p" * 300} for i in range(400)]
    request = RewardRequest.model_validate({"rewards": {"math": 1}, "items": items})
    response = RewardResponse(
        results=[ItemResult(id=str(i), reward=0.5, scores={"math": 0.5}, errors={}) for i in range(400)],
        elapsed_ms=1.0,
    )
    recorder = Recorder(store, RecordOptions(sample=0.5, text_chars=100))
    recorder.offer(request, response, "sampled", 3)
    assert recorder.flush()
    kept = store.items(ItemFilter(run="sampled", limit=1000))["items"]
    groups: dict[str, int] = {}
    for item in kept:
        groups[item["group"]] = groups.get(item["group"], 0) + 1
    assert set(groups.values()) == {4}  # whole groups
    assert 20 <= len(groups) <= 80  # about half of the 100 groups
    detail = store.item(kept[0]["pk"])
    assert detail is not None and detail["completion"].startswith("y" * 100)
    assert detail["completion"].endswith("[truncated 400 characters]") and len(detail["prompt"]) < 160
    recorder.close()


def test_recording_through_the_server_with_run_and_step(tmp_path: Path) -> None:
    database = tmp_path / "live.sqlite"
    with server_process(env={"REFEREE_RECORD": sqlite_url(database)}) as (url, _):
        items = [
            {"id": f"q{i}", "group": "q", "completion": f"The answer is $\\boxed{{{i}}}$", "answer": "1"}
            for i in range(4)
        ]
        body = {"rewards": {"math": 1.0}, "items": items}
        headers = {"X-Referee-Run": "from-headers", "X-Referee-Step": "7"}
        assert httpx.post(f"{url}/v1/rewards", json=body, headers=headers, timeout=60).status_code == 200
        fields = {**body, "run": "from-fields", "step": 3}
        assert httpx.post(f"{url}/v1/rewards", json=fields, timeout=60).status_code == 200
        store = Store(sqlite_url(database))
        assert wait_for(lambda: len(store.runs()) == 2, 30)
        runs = {run["run"]: run for run in store.runs()}
        assert runs["from-headers"]["steps"] == 7 and runs["from-fields"]["steps"] == 3
        right = store.items(ItemFilter(run="from-headers", component="math", score_min=1))["items"]
        assert [item["id"] for item in right] == ["q1"]
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
        assert "referee_records_written_total 8.0" in metrics


def test_what_was_committed_survives_sigkill(tmp_path: Path) -> None:
    database = tmp_path / "killed.sqlite"
    with server_process(env={"REFEREE_RECORD": sqlite_url(database)}) as (url, process):
        for step in range(5):
            items = [{"completion": f"answer {step}-{i}"} for i in range(16)]
            body = {"rewards": {"format": 1.0}, "items": items, "run": "killed", "step": step}
            assert httpx.post(f"{url}/v1/rewards", json=body, timeout=60).status_code == 200
        store = Store(sqlite_url(database))
        assert wait_for(lambda: sum(run["items"] for run in store.runs()) == 80, 30)
        committed = store.series("killed")
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
    reopened = Store(sqlite_url(database))
    assert reopened.series("killed") == committed
    with reopened.engine.connect() as connection:
        from sqlalchemy import text

        assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"


def test_the_inspector_needs_the_key_and_keeps_it_in_a_strict_cookie(tmp_path: Path) -> None:
    env = {"REFEREE_RECORD": sqlite_url(tmp_path / "k.sqlite"), "REFEREE_API_KEY": "s3cret"}
    with server_process(env=env) as (url, _):
        assert httpx.get(f"{url}/ui", timeout=10).status_code == 200  # the page itself holds no data
        assert httpx.get(f"{url}/ui/api/runs", timeout=10).status_code == 401
        assert httpx.post(f"{url}/ui/api/login", json={"key": "wrong"}, timeout=10).status_code == 401
        login = httpx.post(f"{url}/ui/api/login", json={"key": "s3cret"}, timeout=10)
        cookie = login.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "s3cret" not in cookie
        with httpx.Client(base_url=url, cookies=login.cookies) as browser:
            assert browser.get("/ui/api/runs", timeout=10).status_code == 200
        bearer = httpx.get(f"{url}/ui/api/runs", headers={"Authorization": "Bearer s3cret"}, timeout=10)
        assert bearer.status_code == 200
        page = httpx.get(f"{url}/ui", timeout=10)
        assert "script-src" not in page.headers["content-security-policy"]  # default-src 'self' covers it
        assert page.headers["content-security-policy"].startswith("default-src 'self'")


def test_referee_inspect_reads_a_scored_file_and_its_items(tmp_path: Path) -> None:
    from service.inspector.offline import inspector_app

    items = [
        {"id": f"i{n}", "group": "g", "completion": f"<think>x</think>{n}", "prompt": "p"} for n in range(3)
    ]
    results = [
        {"id": f"i{n}", "reward": float(n), "scores": {"math": float(n > 0)}, "errors": {}} for n in range(3)
    ]
    (tmp_path / "run.jsonl").write_text("".join(json.dumps(item) + "\n" for item in items))
    (tmp_path / "run.scored.jsonl").write_text("".join(json.dumps(result) + "\n" for result in results))
    client = TestClient(inspector_app(tmp_path / "run.scored.jsonl", tmp_path / "run.jsonl", "run"))
    odd = TestClient(inspector_app(tmp_path / "run.scored.jsonl", tmp_path / "run.jsonl", "exp/1 %2F .."))
    assert odd.get("/ui/api/series", params={"run": "exp/1 %2F .."}).json()["reward"] == [1.0]
    assert [run["run"] for run in client.get("/ui/api/runs").json()] == ["run"]
    listed = client.get("/ui/api/items", params={"run": "run", "sort": "reward"}).json()["items"]
    assert [item["id"] for item in listed] == ["i0", "i1", "i2"]
    detail = client.get(f"/ui/api/items/{listed[2]['pk']}").json()
    assert detail["completion"] == "<think>x</think>2" and detail["prompt"] == "p"
    assert client.get("/ui/api/series", params={"run": "run"}).json()["steps"] == [1]  # no step: request no.
    assert client.get("/ui/api/items", params={"limit": 0}).status_code == 422
    assert client.get("/ui/api/items/99999999999999999999").status_code == 422
    group = client.get(f"/ui/api/items/{listed[2]['pk']}/group").json()
    assert [member["advantage"] for member in group["items"]] == [1.0, 0.0, -1.0]  # sample std, as GRPO


def test_the_grafana_dashboard_queries_only_metrics_the_service_exports() -> None:
    import re

    from prometheus_client import REGISTRY

    import service.inspector.recorder  # noqa: F401
    import service.runtime.metrics  # noqa: F401 (registers the service's metrics)

    dashboard = json.loads(
        (Path(__file__).parents[1] / "docs" / "grafana" / "referee-dashboard.json").read_text()
    )
    queried = {
        re.sub(r"_(bucket|total)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"referee_[a-z_]+", target["expr"])
    }
    exported = {re.sub(r"_total$", "", metric.name) for metric in REGISTRY.collect()}
    assert queried and queried <= exported, queried - exported
    assert dashboard["__inputs"][0]["pluginId"] == "prometheus" and len(dashboard["panels"]) >= 8


def test_answers_found_only_by_a_fallback_rule(store: Store) -> None:
    texts = {
        "boxed": "<think>2+2</think>So $\\boxed{4}$.",
        "tagged": "<think>2+2</think><answer>4</answer>",
        "phrase": "<think>2+2</think>The answer is 4.",
        "last-number": "<think>2+2</think>I add them and get 4",
        "wrong": "<think>2+2</think>The answer is 5.",
    }
    items = [
        ScoredItem(name, None, "2+2?", text, False, "4", float(name != "wrong"), len(text),
                   {"math": float(name != "wrong")})
        for name, text in texts.items()
    ]  # fmt: skip
    store.write([ScoredRequest(time.time(), "fb", 0, {"math": 1.0}, {}, None, 1.0, items)])
    assert sorted(item["id"] for item in store.fallback_answers("fb")) == ["last-number", "phrase"]


@pytest.mark.parametrize("flags", [["--record"], ["--record", "--record-sample", "1"]])
def test_referee_serve_record_alone_writes_the_default_sqlite_file(tmp_path: Path, flags: list[str]) -> None:
    with server_process(*flags, cwd=tmp_path) as (url, _):
        body = {"rewards": {"format": 1.0}, "items": [{"completion": "<think>a</think>b"}], "run": "cli"}
        assert httpx.post(f"{url}/v1/rewards", json=body, timeout=60).status_code == 200
        store = Store(sqlite_url(tmp_path / "referee-records.sqlite"))
        assert wait_for(lambda: [run["run"] for run in store.runs()] == ["cli"], 30)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_replicas_starting_together_migrate_one_after_the_other(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    import subprocess
    import sys

    url = (
        sqlite_url(tmp_path / "shared.sqlite")
        if engine == "sqlite"
        else request.getfixturevalue("postgres").new_database()
    )
    script = "import sys; from service.inspector.store import Store; Store(sys.argv[1]).migrate()"
    starts = [subprocess.Popen([sys.executable, "-c", script, url]) for _ in range(4)]
    assert [process.wait(120) for process in starts] == [0, 0, 0, 0]
    assert Store(url).schema_version() == "0001"


def test_hostile_texts_and_odd_steps_are_recorded_cleaned(store: Store) -> None:
    from service.api.schemas import ItemResult, RewardRequest, RewardResponse

    def exchange(completion: object, step: int | None) -> tuple[RewardRequest, RewardResponse]:
        request = RewardRequest.model_validate(
            {"rewards": {"math": 1}, "items": [{"completion": completion, "id": "x\x00y"}], "step": step}
        )
        response = RewardResponse(
            results=[ItemResult(id="x\x00y", reward=1.0, scores={"math": 1.0}, errors={})], elapsed_ms=1.0
        )
        return request, response

    recorder = Recorder(store, RecordOptions(text_chars=50))
    call = {"function": {"name": "f", "arguments": "a" * 500}}
    chat = [
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "p" * 500}],
            "tool_calls": [call],
            "reasoning_content": "r" * 500,
        }
    ]
    for completion, step in (("nul\x00 and \ud800 surrogate", 2**70), ("plain", 3), (chat, 4)):
        recorder.offer(*exchange(completion, step), "hostile", None)  # type: ignore[arg-type]
    assert recorder.flush()
    items = store.items(ItemFilter(run="hostile", sort="step"))["items"]
    assert len(items) == 3 and [item["step"] for item in items] == [3, 4, None]  # 2**70 is no step
    details = [store.item(item["pk"]) for item in items]
    assert details[2] is not None and details[2]["completion"] == "nul\ufffd and ? surrogate"
    assert details[2]["id"] == "x\ufffdy"
    stored = json.dumps(details[1]["completion"])  # type: ignore[index]
    assert "p" * 51 not in stored and "a" * 51 not in stored and "r" * 51 not in stored
    assert stored.count("truncated 450 characters") == 3
    recorder.close()


def test_a_server_whose_database_is_down_still_scores(tmp_path: Path) -> None:
    with server_process(env={"REFEREE_RECORD": "postgresql+psycopg://nobody@127.0.0.1:9/none"}) as (url, _):
        body = {"rewards": {"format": 1.0}, "items": [{"completion": "<think>a</think>b"}] * 3}
        odd_headers = {"X-Referee-Run": "r" * 500, "X-Referee-Step": "-1"}
        response = httpx.post(f"{url}/v1/rewards", json=body, headers=odd_headers, timeout=60)
        assert response.status_code == 200 and len(response.json()["results"]) == 3

        def dropped() -> float:
            text = httpx.get(f"{url}/metrics", timeout=10).text
            lines = [line for line in text.splitlines() if 'reason="database_error"' in line]
            return float(lines[0].split()[-1]) if lines else 0.0

        assert wait_for(lambda: dropped() == 3.0, 30)


def test_the_migrations_build_exactly_the_models_schema(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from service.inspector.store import Base

    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_the_trl_adapter_files_batches_under_its_run_and_trls_step(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from clients.trl import referee_reward_funcs

    database = tmp_path / "trl.sqlite"
    with server_process(env={"REFEREE_RECORD": sqlite_url(database)}) as (url, _):
        funcs, _ = referee_reward_funcs({"format": 1.0}, base_url=url, run="trl-run")
        state = SimpleNamespace(global_step=5)  # what GRPOTrainer passes as `trainer_state`
        assert funcs[0](["p", "p"], ["<think>a</think>b", "c"], trainer_state=state) == [1.0, 0.0]
        store = Store(sqlite_url(database))
        assert wait_for(lambda: [(r["run"], r["steps"]) for r in store.runs()] == [("trl-run", 5)], 30)
