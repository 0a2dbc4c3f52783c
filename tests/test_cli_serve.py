"""`referee serve` as a user runs it: flags, env vars and the TOML config file reach the server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.server_utils import server_process

WIDE = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1"}  # rich must not wrap the error message


def test_serve_reads_toml_config_and_env(tmp_path: Path) -> None:
    config = tmp_path / "referee.toml"
    config.write_text('max_items = 2\napi_key = "from-file"\n')
    with server_process("--config", str(config), env={"REFEREE_API_KEY": "from-env"}) as (url, _):
        headers = {"Authorization": "Bearer from-env"}  # env beats the file
        assert httpx.get(f"{url}/v1/rewards", headers=headers, timeout=30).status_code == 200
        body = {"rewards": {"format": 1.0}, "items": [{"completion": "a"}] * 3}
        response = httpx.post(f"{url}/v1/rewards", json=body, headers=headers, timeout=30)
        assert response.status_code == 413  # max_items from the file


def test_serve_rejects_a_missing_config_file(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "serve", "--config", str(tmp_path / "nope.toml")],
        capture_output=True,
        text=True,
        timeout=60,
        env=WIDE,
    )
    assert result.returncode != 0
    assert "does not exist" in result.stderr


def test_serve_rejects_invalid_settings(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("max_items = -1\n")
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=WIDE,
    )
    assert result.returncode == 2
    assert "max_items" in result.stderr
