"""Recording never slows or fails scoring: the endpoint hands a finished request to `Recorder.offer`
(a non-blocking put on a bounded queue) and a background thread writes batches to the store. A full
queue or a database that is down drops records, counted in `/metrics`, never requests."""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
from dataclasses import dataclass

from prometheus_client import Counter

from service.api.schemas import Item, RewardRequest, RewardResponse, assistant_texts, message_text
from service.inspector.store import ScoredItem, ScoredRequest, Store

log = logging.getLogger("referee.inspector")
RECORDED = Counter("referee_records_written_total", "Scored items written to the inspector's store.")
DROPPED = Counter(
    "referee_records_dropped_total",
    "Scored items not recorded, per reason (queue_full, database_error, sampled_out).",
    ["reason"],
)
TRUNCATED_MARKER = "\n…[truncated {} characters]"
Offered = tuple[RewardRequest, RewardResponse, "str | None", "int | None"]


@dataclass(frozen=True)
class RecordOptions:
    sample: float = 1.0
    """Share of GRPO groups (or ungrouped items) kept; a group is kept or dropped whole."""
    max_rows: int | None = None
    max_age_s: float | None = None
    text_chars: int = 20_000
    queue_requests: int = 1_000


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + TRUNCATED_MARKER.format(len(text) - limit)


def scored_item(
    item: Item,
    item_id: str,
    reward: float,
    scores: dict[str, float | None],
    errors: dict[str, str],
    limit: int,
) -> ScoredItem:
    """An item as the store keeps it: texts cut at `limit`, chat completions as JSON messages."""
    chat = not isinstance(item.completion, str)
    if isinstance(item.completion, str):
        completion = truncate(item.completion, limit)
    else:
        messages = [m.model_dump(exclude_none=True) for m in item.completion]
        for message in messages:
            if isinstance(message.get("content"), str):
                message["content"] = truncate(message["content"], limit)
        completion = json.dumps(messages, ensure_ascii=False)
    answer = item.answer if item.answer is None or isinstance(item.answer, str) else json.dumps(item.answer)
    return ScoredItem(
        item_id=item_id,
        group=item.group,
        prompt=truncate(message_text(item.prompt), limit),
        completion=completion,
        chat=chat,
        answer=truncate(answer, limit) if answer is not None else None,
        reward=reward,
        length=sum(len(text) for text in assistant_texts(item.completion)),
        scores=scores,
        errors=errors,
    )


class Recorder:
    def __init__(self, store: Store, options: RecordOptions | None = None) -> None:
        self.store = store
        self.options = options or RecordOptions()
        self._queue: queue.Queue[Offered | None] = queue.Queue(self.options.queue_requests)
        self._thread = threading.Thread(target=self._work, name="referee-recorder", daemon=True)
        self._thread.start()

    # The endpoint's side: cheap, never blocks ----------------------------------------------------

    def offer(
        self, request: RewardRequest, response: RewardResponse, run: str | None, step: int | None
    ) -> None:
        """Called by the endpoint: a put that never waits (the writer thread does the rest)."""
        try:
            self._queue.put_nowait((request, response, run, step))
        except queue.Full:
            DROPPED.labels("queue_full").inc(len(request.items))

    def _record(
        self, request: RewardRequest, response: RewardResponse, run: str | None, step: int | None
    ) -> ScoredRequest:
        keep: dict[str, bool] = {}
        items = []
        for index, (item, result) in enumerate(zip(request.items, response.results, strict=True)):
            key = item.group if item.group is not None else f"#{index}"
            if key not in keep:
                keep[key] = self.options.sample >= 1.0 or random.random() < self.options.sample
            if keep[key]:
                items.append(
                    scored_item(
                        item, result.id, result.reward, result.scores, result.errors, self.options.text_chars
                    )
                )
        DROPPED.labels("sampled_out").inc(len(request.items) - len(items))
        return ScoredRequest(
            time=time.time(),
            run=(run or request.run or "default")[:200],
            step=step if step is not None else request.step,
            weights=dict(request.rewards or {}),
            params=request.params,
            profile=request.profile,
            elapsed_ms=response.elapsed_ms,
            items=items,
        )

    # The writer's side ---------------------------------------------------------------------------

    def _work(self) -> None:
        last_prune = time.monotonic()
        while True:
            batch = [self._queue.get()]
            while len(batch) < 64:  # whatever else is waiting goes in the same transaction
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            offered = [entry for entry in batch if entry is not None]
            records = [record for record in (self._record(*entry) for entry in offered) if record.items]
            if records:
                self._write(records)
            for _ in batch:
                self._queue.task_done()
            if len(offered) < len(batch):  # `close` asked us to stop
                return
            if time.monotonic() - last_prune > 5 and (self.options.max_rows or self.options.max_age_s):
                last_prune = time.monotonic()
                try:
                    self.store.prune(self.options.max_rows, self.options.max_age_s)
                except Exception as exc:
                    log.warning("could not prune the inspector's store: %s", exc)

    def _write(self, batch: list[ScoredRequest]) -> None:
        try:
            RECORDED.inc(self.store.write(batch))
        except Exception as exc:  # the database is down or full: drop, keep scoring
            DROPPED.labels("database_error").inc(sum(len(r.items) for r in batch))
            log.warning("could not record %d scored requests: %s", len(batch), exc)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything offered so far is written (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(10)
        self.store.close()
