"""Every example in `examples/` runs as written, against a live `referee serve --record`, in the
order the README tells them: score a batch, train with TRL, train with the bundled trainer, inspect
the run."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server_utils import referee_command, server_process

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def recording_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    records = tmp_path_factory.mktemp("records") / "records.sqlite"
    with server_process("--record", f"sqlite:///{records}") as (url, _):
        yield url


def run(command: list[str], url: str, cwd: Path) -> str:
    """Run an example from `cwd` (so what it writes stays there) and return its output."""
    env = {**os.environ, "REFEREE_URL": url, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


def test_every_example_is_tested() -> None:
    tested = {"score_batch.py", "trl_grpo.py", "quick.toml", "inspect_run.py"}
    configs = {"demo.toml", "agent.toml", "length_penalty.toml"}  # the long demos: tests/test_grpo_train.py
    assert {path.name for path in EXAMPLES.iterdir() if path.is_file()} == tested | configs


def test_score_batch(recording_server: str, tmp_path: Path) -> None:
    output = run([sys.executable, str(EXAMPLES / "score_batch.py")], recording_server, tmp_path)
    lines = output.splitlines()
    assert lines[0].startswith("q7-0: reward 2.0") and "'math': 1.0, 'format': 1.0" in lines[0]
    assert lines[1].startswith("q7-1: reward 1.0") and "'math': 0.0" in lines[1]
    assert lines[2].startswith("q7-2: reward 1.0") and "'format': 0.0" in lines[2]


@pytest.mark.slow
def test_trl_grpo(recording_server: str, tmp_path: Path) -> None:
    pytest.importorskip("trl")
    output = run([sys.executable, str(EXAMPLES / "trl_grpo.py")], recording_server, tmp_path)
    steps = [line for line in output.splitlines() if line.startswith("step ")]
    assert [line.split(":")[0] for line in steps] == ["step 1", "step 2"]
    assert all("math" in line and "format" in line for line in steps)


@pytest.mark.slow
def test_bundled_trainer_then_the_inspector(recording_server: str, tmp_path: Path) -> None:
    trained = run(
        [*referee_command("train"), "--config", str(EXAMPLES / "quick.toml")], recording_server, tmp_path
    )
    assert "done: 10 steps" in trained
    assert (tmp_path / "runs" / "quick" / "metrics.jsonl").is_file()
    assert (tmp_path / "runs" / "quick" / "reward_curve.png").is_file()
    report = run([sys.executable, str(EXAMPLES / "inspect_run.py"), "quick"], recording_server, tmp_path)
    lines = report.splitlines()
    assert lines[0].startswith("run quick: ")
    assert lines[1].split() == ["step", "reward", "format", "math"]
    rows = [line.split() for line in lines[2:-1]]
    assert len(rows) >= 9 and all(0.0 <= float(row[1]) <= 1.2 for row in rows)
    assert lines[-1] == f"the page: {recording_server}/ui"


def test_inspect_run_names_the_recorded_runs(recording_server: str, tmp_path: Path) -> None:
    env = {**os.environ, "REFEREE_URL": recording_server, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "inspect_run.py"), "no-such-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "no run 'no-such-run'" in done.stderr
