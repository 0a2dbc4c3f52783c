"""Recording never slows or fails scoring: the endpoint hands a finished request to `Recorder.offer`
(a non-blocking put on a queue bounded in items) and a background thread turns it into rows and
writes them. A full queue, a database that is down (at start too) or a record it refuses drops
records, counted in `/metrics`, never requests."""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from service.api.schemas import RewardRequest, RewardResponse
from service.inspector.store import ScoredItem, ScoredRequest, Store
from service.items import Item, assistant_texts, message_text

log = logging.getLogger("referee.inspector")
RECORDED = Counter("referee_records_written_total", "Scored items written to the inspector's store.")
DROPPED = Counter(
    "referee_records_dropped_total",
    "Scored items not recorded, per reason (queue_full, database_error, sampled_out, shutdown, invalid).",
    ["reason"],
)
TRUNCATED_MARKER = "\n…[truncated {} characters]"
MAX_STEP = 2**63 - 1
PRUNE_EVERY_S = 30.0
LINGER_S = 0.05
RETRY_MIGRATION_S = 10.0


@dataclass(frozen=True)
class RecordOptions:
    sample: float = 1.0
    """Share of GRPO groups (or ungrouped items) kept; a group is kept or dropped whole."""
    max_rows: int | None = None
    max_age_s: float | None = None
    text_chars: int = 20_000
    queue_items: int = 200_000
    """Items waiting to be written at most (a slow database must not fill the server's memory)."""


@dataclass
class Offered:
    request: RewardRequest
    response: RewardResponse
    run: str | None
    step: int | None


def clean(text: str, limit: int | None = None) -> str:
    """What any database takes: no NUL characters, no lone surrogates; cut at `limit` with a marker."""
    if limit is not None and len(text) > limit:
        text = text[:limit] + TRUNCATED_MARKER.format(len(text) - limit)
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            text = text.encode(errors="replace").decode()
    return text


def _clean_json(value: Any, limit: int) -> Any:
    """Every string in a message (content parts, tool-call arguments, reasoning) cut and cleaned."""
    if isinstance(value, str):
        return clean(value, limit)
    if isinstance(value, list):
        return [_clean_json(entry, limit) for entry in value]
    if isinstance(value, dict):
        return {clean(str(key), 200): _clean_json(entry, limit) for key, entry in value.items()}
    return value


def scored_item(
    item: Item,
    item_id: str,
    reward: float,
    scores: dict[str, float | None],
    errors: dict[str, str],
    limit: int,
) -> ScoredItem:
    """An item as the store keeps it: texts cleaned and cut at `limit`, trajectories as JSON messages."""
    if isinstance(item.completion, str):
        completion, chat = clean(item.completion, limit), False
    else:
        messages = [message.model_dump(exclude_none=True) for message in item.completion]
        completion, chat = json.dumps(_clean_json(messages, limit), ensure_ascii=False), True
    answer = item.answer if item.answer is None or isinstance(item.answer, str) else json.dumps(item.answer)
    return ScoredItem(
        item_id=clean(item_id, 200),
        group=clean(item.group, 200) if item.group is not None else None,
        prompt=clean(message_text(item.prompt), limit),
        completion=completion,
        chat=chat,
        answer=clean(answer, limit) if answer is not None else None,
        reward=reward,
        length=sum(len(text) for text in assistant_texts(item.completion)),
        scores=scores,
        errors={name: clean(message, 2000) for name, message in errors.items()},
    )


def kept(run: str, group: str, sample: float) -> bool:
    """The same decision for a group wherever its samples arrive (another chunk, another replica)."""
    if sample >= 1.0:
        return True
    digest = hashlib.blake2b(f"{run}\0{group}".encode(errors="replace"), digest_size=8).digest()
    return int.from_bytes(digest, "big") < sample * 2**64


class Recorder:
    def __init__(self, store: Store, options: RecordOptions | None = None, *, migrated: bool = True) -> None:
        self.store = store
        self.options = options or RecordOptions()
        self._queue: queue.Queue[Offered | None] = queue.Queue()
        self._queued_items = 0
        self._lock = threading.Lock()
        self._migrated = migrated
        self._thread = threading.Thread(target=self._work, name="referee-recorder", daemon=True)
        self._thread.start()

    # The endpoint's side: cheap, never blocks ----------------------------------------------------

    def offer(
        self, request: RewardRequest, response: RewardResponse, run: str | None, step: int | None
    ) -> None:
        """Called by the endpoint after scoring. The request's own `run` / `step` win over the
        headers' (a trainer sends its run as a header and its evaluation batches as `<run>-eval`)."""
        size = len(request.items)
        with self._lock:
            if self._queued_items + size > self.options.queue_items:
                DROPPED.labels("queue_full").inc(size)
                return
            self._queued_items += size
        step = request.step if request.step is not None else step
        self._queue.put(Offered(request, response, request.run or run, step))

    def _record(self, offered: Offered) -> ScoredRequest:
        request, response = offered.request, offered.response
        run = clean((offered.run or "default").strip() or "default", 200)
        step = offered.step if offered.step is not None and 0 <= offered.step <= MAX_STEP else None
        items = []
        for index, (item, result) in enumerate(zip(request.items, response.results, strict=True)):
            group = item.group if item.group is not None else message_text(item.prompt) or f"#{index}"
            if kept(run, group, self.options.sample):
                fields = (result.id, result.reward, result.scores, result.errors)
                items.append(scored_item(item, *fields, self.options.text_chars))
        DROPPED.labels("sampled_out").inc(len(request.items) - len(items))
        return ScoredRequest(
            time=time.time(),
            run=run,
            step=step,
            weights=dict(request.rewards or {}),
            params=request.params,
            profile=request.profile,
            elapsed_ms=response.elapsed_ms,
            items=items,
            item_count=len(request.items),
        )

    # The writer's side ---------------------------------------------------------------------------

    def _work(self) -> None:
        last_prune = last_migration = time.monotonic()
        while True:
            batch = [self._queue.get()]
            time.sleep(LINGER_S)  # let a few more arrive: fewer, larger transactions
            while len(batch) < 64:  # whatever else is waiting goes in the same transaction
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            offered = [entry for entry in batch if entry is not None]
            with self._lock:
                self._queued_items -= sum(len(entry.request.items) for entry in offered)
            if not self._migrated and time.monotonic() - last_migration > RETRY_MIGRATION_S:
                last_migration = time.monotonic()
                self._migrate()
            self._write(offered)
            for _ in batch:
                self._queue.task_done()
            if len(offered) < len(batch):  # `close` asked us to stop
                return
            bounded = self.options.max_rows or self.options.max_age_s
            if bounded and time.monotonic() - last_prune > PRUNE_EVERY_S:
                last_prune = time.monotonic()
                try:
                    self.store.prune(self.options.max_rows, self.options.max_age_s)
                except Exception as exc:
                    log.warning("could not prune the inspector's store: %s", exc)

    def _migrate(self) -> None:
        try:
            self.store.migrate()
            self._migrated = True
            log.info("the inspector's store is reachable again and up to date")
        except Exception as exc:
            log.warning("the inspector's store is still unreachable: %s", exc)

    def _write(self, offered: list[Offered]) -> None:
        records = []
        for entry in offered:
            try:
                records.append(self._record(entry))
            except Exception as exc:  # never let one odd request stop the writer
                DROPPED.labels("invalid").inc(len(entry.request.items))
                log.warning("could not record a scored request: %s", exc)
        records = [record for record in records if record.items]
        if not records:
            return
        if not self._migrated:
            DROPPED.labels("database_error").inc(sum(len(r.items) for r in records))
            return
        try:
            written = self.store.write(records)
            RECORDED.inc(written)
            DROPPED.labels("database_error").inc(sum(len(r.items) for r in records) - written)
        except Exception as exc:  # the database is down or full: drop, keep scoring
            DROPPED.labels("database_error").inc(sum(len(r.items) for r in records))
            log.warning("could not record %d scored requests: %s", len(records), exc)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything offered so far is written (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (up to `timeout`), then stop; what is left is counted as dropped."""
        self._queue.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            with self._lock:
                DROPPED.labels("shutdown").inc(self._queued_items)
        self.store.close()
