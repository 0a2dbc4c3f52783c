"""Shared fixtures. `live_server` is a real uvicorn on a free localhost port with default settings."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from tests.server_utils import running_server

# The trainer peers live in their own venv (`make test-peers`); elsewhere their tests are not collected.
collect_ignore = ["peers"] if importlib.util.find_spec("verl") is None else []


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """Base URL of a session-wide server (default settings, resources built as in production)."""
    with running_server() as url:
        yield url
