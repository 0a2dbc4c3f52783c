"""Score one item at a time from many threads or coroutines at batch speed: concurrent calls in a
process are coalesced into one request (a small micro-batcher with a short wait). For trainers that
call the reward per sample, such as verl's reward loop, which calls `compute_score` once per rollout.

Items of one rollout group that arrive together land in one request, so group rewards (`length`)
see their whole group.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from clients.batching import DynamicBatcher
from clients.client import ItemResult, RefereeClient, shared_client, shared_key

DEFAULT_WAIT_MS = 20.0


def _env_ms(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


class ItemScorer:
    """`score(item)` from any thread, `await score_async(item)` from any event loop. A request goes
    out `max_wait_ms` after the first call joined it (or, with `max_idle_ms`, once no call joined for
    that long: quicker for few concurrent callers, but a rollout group may then be split across
    requests). `selection` is `{"rewards": {...}}` or `{"profile": ...}`, plus `params`."""

    def __init__(
        self,
        selection: Mapping[str, Any],
        client: RefereeClient | None = None,
        max_wait_ms: float | None = None,
        max_idle_ms: float | None = None,
        max_items: int = 4096,
    ) -> None:
        self.selection = dict(selection)
        self.client = client or shared_client()
        wait = max_wait_ms if max_wait_ms is not None else _env_ms("REFEREE_BATCH_WAIT_MS", DEFAULT_WAIT_MS)
        idle = max_idle_ms if max_idle_ms is not None else _env_ms("REFEREE_BATCH_IDLE_MS", 0.0) or None
        self.batcher = DynamicBatcher(
            self.score_many, max_items, wait, name="referee-coalesce", max_idle_ms=idle, in_flight=8
        )

    def score_many(self, items: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        """One request for these items, now (no waiting for others)."""
        return self.client.score(items, **self.selection).results

    def score(self, item: Mapping[str, Any]) -> ItemResult:
        return self.batcher.submit([item])[0].result()

    async def score_async(self, item: Mapping[str, Any]) -> ItemResult:
        return await asyncio.wrap_future(self.batcher.submit([item])[0])

    def close(self) -> None:
        self.batcher.close()


_SCORERS: dict[tuple[Any, ...], ItemScorer] = {}
_SCORERS_LOCK = threading.Lock()


def shared_scorer(selection: Mapping[str, Any]) -> ItemScorer:
    """One scorer per process, server and selection (see `shared_client`)."""
    key = (*shared_key(), json.dumps(selection, sort_keys=True))
    with _SCORERS_LOCK:
        if key not in _SCORERS:
            _SCORERS[key] = ItemScorer(selection)
        return _SCORERS[key]
