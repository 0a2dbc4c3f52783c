"""Module-level tasks for the worker-pool tests (workers import them by reference)."""

from __future__ import annotations

import os
import signal
import time


def square(x: int) -> int:
    return x * x


def fail(message: str) -> None:
    raise ValueError(message)


def sleep_then_square(seconds: float, x: int) -> int:
    time.sleep(seconds)
    return x * x


def crash() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
