"""The README's reference blocks are generated from the code; they must be current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_readme_blocks_are_current() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "docs.gen_readme", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_readme_starts_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1][:400]
    assert "make serve" in quickstart and "make test" in quickstart
    assert "make test" in (ROOT / ".ci" / "run").read_text()
