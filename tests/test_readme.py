"""The README is one page that points into the docs site; the site's generated tables are current and
it builds strictly (a broken link or anchor fails the build)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from service.rewards.registry import REWARDS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_generated_pages_are_current() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "docs.gen_pages", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_readme_fits_on_a_page_and_starts_with_the_two_commands() -> None:
    assert len(README.splitlines()) <= 250
    quickstart = README.split("## Quickstart", 1)[1][:400]
    assert "make serve" in quickstart and "make test" in quickstart
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_links_resolve() -> None:
    """Relative links point at files that exist (the docs site checks its own links when it builds)."""
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README)
    relative = [target for target in targets if not re.match(r"[a-z]+://", target)]
    assert relative, "the README links into docs/ and examples/"
    assert [target for target in relative if not (ROOT / target).exists()] == []


def test_readme_names_every_reward() -> None:
    scored = README.split("## What it scores", 1)[1].split("\n## ", 1)[0]
    assert [name for name in REWARDS if f"`{name}`" not in scored] == []


def test_the_quickstart_request_gives_the_response_shown(live_server: str) -> None:
    command = README.split("```bash\ncurl -s localhost:8000/v1/rewards", 1)[1].split("```", 1)[0]
    body = command.split("-d '", 1)[1].rsplit("'", 1)[0]
    shown = json.loads(README.split("```json\n", 1)[1].split("```", 1)[0])
    response = httpx.post(f"{live_server}/v1/rewards", json=json.loads(body), timeout=120).json()
    for got, expected in zip(response["results"], shown["results"], strict=True):
        assert {key: got[key] for key in ("id", "reward", "scores", "errors")} == {
            key: expected[key] for key in ("id", "reward", "scores", "errors")
        }


def test_the_docs_site_builds_strictly(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    reference = (tmp_path / "site" / "openapi" / "index.html").read_text()
    assert "/v1/rewards" in reference and "RewardRequest" in reference
    assert (tmp_path / "site" / "rewards" / "index.html").is_file()


def test_a_broken_link_fails_the_docs_build(tmp_path: Path) -> None:
    """The strict build above would pass vacuously if the site did not validate links."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\n[gone](missing.md) and [here](index.md#no-such-heading)\n")
    config = (ROOT / "mkdocs.yml").read_text().split("\nnav:", 1)[0]
    (tmp_path / "mkdocs.yml").write_text(config)
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode != 0
    assert "missing.md" in result.stderr and "no-such-heading" in result.stderr
