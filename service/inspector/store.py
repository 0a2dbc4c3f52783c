"""Where scored batches are kept: SQLite (one file, the default) or PostgreSQL (several API replicas
writing to one database). Three tables: a scored request, its items, and each item's component
scores (one row per reward, so score ranges and error kinds filter in plain SQL on both engines).
The schema is created and upgraded by alembic (`service/inspector/migrations`)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, selectinload

MIGRATIONS = Path(__file__).parent / "migrations"
SCHEMA_VERSION = "0001"


class Base(DeclarativeBase):
    pass


Id = BigInteger().with_variant(Integer, "sqlite")  # 64-bit in PostgreSQL; SQLite's rowid is 64-bit already


class RequestRecord(Base):
    __tablename__ = "requests"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    time: Mapped[float] = mapped_column(Float, index=True)
    run: Mapped[str] = mapped_column(String(200), index=True)
    step: Mapped[int | None] = mapped_column(BigInteger)
    weights: Mapped[str] = mapped_column(Text)
    params: Mapped[str] = mapped_column(Text)
    profile: Mapped[str | None] = mapped_column(String(100))
    item_count: Mapped[int] = mapped_column(Integer)
    elapsed_ms: Mapped[float] = mapped_column(Float)
    items: Mapped[list[ItemRecord]] = relationship(back_populates="request", cascade="all, delete-orphan")


class ItemRecord(Base):
    __tablename__ = "items"
    __table_args__ = (
        Index("ix_items_run_step", "run", "step"),
        Index("ix_items_run_reward", "run", "reward"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    request_id: Mapped[int] = mapped_column(Id, ForeignKey("requests.id", ondelete="CASCADE"), index=True)
    run: Mapped[str] = mapped_column(String(200))
    step: Mapped[int | None] = mapped_column(BigInteger)
    item_id: Mapped[str] = mapped_column(String(200))
    group_name: Mapped[str | None] = mapped_column(String(200), index=True)
    prompt: Mapped[str] = mapped_column(Text)
    completion: Mapped[str] = mapped_column(Text)
    chat: Mapped[bool] = mapped_column(default=False)
    answer: Mapped[str | None] = mapped_column(Text)
    reward: Mapped[float] = mapped_column(Float)
    length: Mapped[int] = mapped_column(Integer)
    request: Mapped[RequestRecord] = relationship(back_populates="items")
    scores: Mapped[list[ScoreRecord]] = relationship(back_populates="item", cascade="all, delete-orphan")


class ScoreRecord(Base):
    __tablename__ = "scores"
    __table_args__ = (Index("ix_scores_name_value", "name", "value"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    item_pk: Mapped[int] = mapped_column(Id, ForeignKey("items.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[float | None] = mapped_column(Float)
    error_kind: Mapped[str | None] = mapped_column(String(60), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    item: Mapped[ItemRecord] = relationship(back_populates="scores")


@dataclass
class ScoredItem:
    """One item as recorded: what the policy wrote and what it got."""

    item_id: str
    group: str | None
    prompt: str
    completion: str
    chat: bool
    answer: str | None
    reward: float
    length: int
    scores: dict[str, float | None]
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class ScoredRequest:
    time: float
    run: str
    step: int | None
    weights: dict[str, float]
    params: dict[str, Any]
    profile: str | None
    elapsed_ms: float
    items: list[ScoredItem]
    item_count: int | None = None
    """Items the request scored (more than `items` when sampling kept only some)."""


@dataclass(frozen=True)
class ItemFilter:
    """What the items table asks for; every field optional."""

    run: str | None = None
    step_min: int | None = None
    step_max: int | None = None
    component: str | None = None
    score_min: float | None = None
    score_max: float | None = None
    error_kind: str | None = None
    group: str | None = None
    text: str | None = None
    sort: str = "-reward"
    limit: int = 100
    offset: int = 0


SORTS = {
    "reward": ItemRecord.reward,
    "length": ItemRecord.length,
    "step": ItemRecord.step,
    "time": ItemRecord.id,
}


def error_kind(message: str) -> str:
    """`no_answer: no boxed answer` -> `no_answer`."""
    return message.split(":", 1)[0].strip()[:60]


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest version (alembic)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self._migration_lock(), self.engine.begin() as connection:
            if self.engine.dialect.name == "postgresql":  # replicas starting together take turns
                connection.execute(text("SELECT pg_advisory_xact_lock(7270001)"))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """uvicorn workers sharing one SQLite file migrate one after the other (a lock file beside it)."""
        database = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        if not database or database == ":memory:":
            yield
            return
        with open(f"{database}.migrate-lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def schema_version(self) -> str | None:
        with self.engine.connect() as connection:
            from alembic.runtime.migration import MigrationContext

            return MigrationContext.configure(connection).get_current_revision()

    def close(self) -> None:
        self.engine.dispose()

    # Writing ----------------------------------------------------------------------------------

    def write(self, batch: list[ScoredRequest]) -> int:
        """Store requests with their items and scores, in one transaction when all are fine; when one
        is refused (a value the database cannot hold), each on its own so the others are kept.
        Returns the items written; raises when none could be."""
        try:
            with self.engine.begin() as connection:
                for request in batch:
                    _insert(connection, request)
            return sum(len(request.items) for request in batch)
        except Exception:
            if len(batch) == 1:
                raise
        written, failure = 0, None
        for request in batch:
            try:
                with self.engine.begin() as connection:
                    _insert(connection, request)
                written += len(request.items)
            except Exception as exc:
                failure = exc
        if written == 0 and failure is not None:
            raise failure
        return written

    def prune(self, max_rows: int | None, max_age_s: float | None) -> None:
        """Retention: drop requests older than `max_age_s`, then the oldest beyond `max_rows` items."""
        with Session(self.engine) as session, session.begin():
            if max_age_s is not None:
                old = select(RequestRecord.id).where(RequestRecord.time < time.time() - max_age_s)
                self._delete_requests(session, old)
            if max_rows is not None:  # the newest `max_rows` items stay (whole requests go)
                cutoff = session.scalar(
                    select(ItemRecord.request_id).order_by(ItemRecord.id.desc()).offset(max_rows).limit(1)
                )
                if cutoff is not None:
                    self._delete_requests(session, select(RequestRecord.id).where(RequestRecord.id <= cutoff))

    @staticmethod
    def _delete_requests(session: Session, ids: Any) -> None:
        """Delete explicitly, children first: SQLite enforces no foreign keys by default."""
        items = select(ItemRecord.id).where(ItemRecord.request_id.in_(ids))
        session.execute(delete(ScoreRecord).where(ScoreRecord.item_pk.in_(items)))
        session.execute(delete(ItemRecord).where(ItemRecord.request_id.in_(ids)))
        session.execute(delete(RequestRecord).where(RequestRecord.id.in_(ids)))

    # Reading ----------------------------------------------------------------------------------

    def runs(self) -> list[dict[str, Any]]:
        query = (
            select(
                RequestRecord.run,
                func.count(RequestRecord.id),
                func.sum(RequestRecord.item_count),
                func.min(RequestRecord.time),
                func.max(RequestRecord.time),
                func.max(RequestRecord.step),
            )
            .group_by(RequestRecord.run)
            .order_by(func.max(RequestRecord.time).desc())
        )
        with self.engine.connect() as connection:
            return [
                {"run": run, "requests": n, "items": items or 0, "first": first, "last": last, "steps": step}
                for run, n, items, first, last, step in connection.execute(query)
            ]

    def series(self, run: str) -> dict[str, Any]:
        """Per step (or per request when a run sends no steps): mean reward (a null component counts
        as 0 in it), mean of each component over the scores it computed, the share of component scores
        that came back null per error kind, items/s (each request's items over its time) and the mean
        request latency."""
        step = func.coalesce(ItemRecord.step, ItemRecord.request_id)
        request_step = func.coalesce(RequestRecord.step, RequestRecord.id)
        with self.engine.connect() as connection:
            rewards = connection.execute(
                select(step, func.avg(ItemRecord.reward), func.count(ItemRecord.id))
                .where(ItemRecord.run == run)
                .group_by(step)
                .order_by(step)
            ).all()
            components = connection.execute(
                select(step, ScoreRecord.name, func.avg(ScoreRecord.value), func.count(ScoreRecord.id))
                .join(ItemRecord, ScoreRecord.item_pk == ItemRecord.id)
                .where(ItemRecord.run == run)
                .group_by(step, ScoreRecord.name)
            ).all()
            nulls = connection.execute(
                select(step, ScoreRecord.error_kind, func.count(ScoreRecord.id))
                .join(ItemRecord, ScoreRecord.item_pk == ItemRecord.id)
                .where(ItemRecord.run == run, ScoreRecord.value.is_(None))
                .group_by(step, ScoreRecord.error_kind)
            ).all()
            timing = connection.execute(
                select(
                    request_step,
                    func.sum(RequestRecord.item_count),
                    func.sum(RequestRecord.elapsed_ms),
                    func.avg(RequestRecord.elapsed_ms),
                )
                .where(RequestRecord.run == run)
                .group_by(request_step)
            ).all()
        steps = [row[0] for row in rewards]
        by_component: dict[str, dict[int, float | None]] = {}
        scored: dict[int, int] = {}  # component scores per step, computed or not
        for at, name, mean, count in components:
            by_component.setdefault(name, {})[at] = mean
            scored[at] = scored.get(at, 0) + count
        by_kind: dict[str, dict[int, float]] = {}
        for at, kind, count in nulls:
            by_kind.setdefault(kind or "unknown", {})[at] = count / scored[at] if scored.get(at) else 0.0
        speed = {at: (items, total_ms, mean_ms) for at, items, total_ms, mean_ms in timing}
        return {
            "steps": steps,
            "reward": [row[1] for row in rewards],
            "items": [row[2] for row in rewards],
            "components": {
                name: [values.get(at) for at in steps] for name, values in sorted(by_component.items())
            },
            "null_rate": {
                kind: [rates.get(at, 0.0) for at in steps] for kind, rates in sorted(by_kind.items())
            },
            "items_per_s": [_rate(*speed.get(at, (0, 0, None))[:2]) for at in steps],
            "latency_ms": [speed.get(at, (0, 0, None))[2] for at in steps],
        }

    def values(self, run: str, name: str, limit: int = 20_000) -> list[float]:
        """Scores of one component (or `reward`) over a run, for its histogram."""
        query: Any
        with self.engine.connect() as connection:
            if name == "reward":
                query = select(ItemRecord.reward).where(ItemRecord.run == run).limit(limit)
            else:
                query = (
                    select(ScoreRecord.value)
                    .join(ItemRecord, ScoreRecord.item_pk == ItemRecord.id)
                    .where(ItemRecord.run == run, ScoreRecord.name == name, ScoreRecord.value.is_not(None))
                    .limit(limit)
                )
            return [value for (value,) in connection.execute(query)]

    def items(self, where: ItemFilter) -> dict[str, Any]:
        query = select(ItemRecord)
        if where.run is not None:
            query = query.where(ItemRecord.run == where.run)
        if where.step_min is not None:
            query = query.where(ItemRecord.step >= where.step_min)
        if where.step_max is not None:
            query = query.where(ItemRecord.step <= where.step_max)
        if where.group:
            query = query.where(ItemRecord.group_name == where.group)
        if where.text:  # case-insensitive on both engines; % and _ are literal
            query = query.where(
                or_(
                    ItemRecord.completion.icontains(where.text, autoescape=True),
                    ItemRecord.prompt.icontains(where.text, autoescape=True),
                )
            )
        if where.component and (where.score_min is not None or where.score_max is not None):
            scored = select(ScoreRecord.item_pk).where(ScoreRecord.name == where.component)
            if where.score_min is not None:
                scored = scored.where(ScoreRecord.value >= where.score_min)
            if where.score_max is not None:
                scored = scored.where(ScoreRecord.value <= where.score_max)
            query = query.where(ItemRecord.id.in_(scored))
        if where.error_kind:
            failed = select(ScoreRecord.item_pk).where(ScoreRecord.error_kind == where.error_kind)
            query = query.where(ItemRecord.id.in_(failed))
        column = SORTS.get(where.sort.lstrip("-"), ItemRecord.reward)
        order = (column.desc() if where.sort.startswith("-") else column.asc()).nulls_last()  # both engines
        with Session(self.engine) as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            page = (
                query.order_by(order, ItemRecord.id)
                .offset(max(0, where.offset))
                .limit(max(1, min(where.limit, 1000)))
            )
            rows = session.scalars(page.options(selectinload(ItemRecord.scores))).all()
            return {"total": total, "items": [_summary(row) for row in rows]}

    def item(self, pk: int) -> dict[str, Any] | None:
        with Session(self.engine) as session:
            row = session.get(ItemRecord, pk)
            return None if row is None else _detail(row)

    def group(self, pk: int) -> dict[str, Any] | None:
        """The GRPO group of item `pk` (same request, same group), sorted by reward, with each item's
        group-normalised advantage (reward - mean) / std, the sample std as GRPO trainers take it."""
        with Session(self.engine) as session:
            anchor = session.get(ItemRecord, pk)
            if anchor is None:
                return None
            query = select(ItemRecord).where(ItemRecord.request_id == anchor.request_id)
            query = query.where(
                ItemRecord.group_name == anchor.group_name
                if anchor.group_name is not None
                else ItemRecord.id == anchor.id
            )
            rows = session.scalars(query.order_by(ItemRecord.reward.desc(), ItemRecord.id)).all()
            rewards = [row.reward for row in rows]
            mean = statistics.fmean(rewards)
            std = statistics.stdev(rewards) if len(rewards) > 1 else 0.0
            members = []
            for row in rows:
                detail = _detail(row)
                detail["advantage"] = (row.reward - mean) / std if std > 1e-12 else 0.0
                members.append(detail)
            return {
                "group": anchor.group_name,
                "step": anchor.step,
                "mean": mean,
                "std": std,
                "items": members,
            }

    def disagreements(self, run: str, high: str, low: str, limit: int = 50) -> list[dict[str, Any]]:
        """Items where component `high` scored >= 0.5 and component `low` < 0.5 (e.g. `math` 1 but
        `cot_rm` 0): where one reward is fooled or too strict."""
        high_scores = select(ScoreRecord.item_pk).where(ScoreRecord.name == high, ScoreRecord.value >= 0.5)
        low_scores = select(ScoreRecord.item_pk).where(ScoreRecord.name == low, ScoreRecord.value < 0.5)
        query = (
            select(ItemRecord)
            .where(ItemRecord.run == run, ItemRecord.id.in_(high_scores), ItemRecord.id.in_(low_scores))
            .order_by(ItemRecord.reward.desc(), ItemRecord.length)
            .limit(limit)
            .options(selectinload(ItemRecord.scores))
        )
        with Session(self.engine) as session:
            return [_summary(row) for row in session.scalars(query).all()]

    def short_and_rewarded(self, run: str, limit: int = 50) -> list[dict[str, Any]]:
        """The highest-reward shortest completions: a 3-token answer with full reward is suspicious."""
        query = (
            select(ItemRecord)
            .where(ItemRecord.run == run)
            .order_by(ItemRecord.reward.desc(), ItemRecord.length, ItemRecord.id)
            .limit(limit)
            .options(selectinload(ItemRecord.scores))
        )
        with Session(self.engine) as session:
            return [_summary(row) for row in session.scalars(query).all()]

    def fallback_answers(self, run: str, component: str = "math", limit: int = 50) -> list[dict[str, Any]]:
        """Items `component` scored right although none of Referee's strong rules (a `\\boxed{}`, an
        `<answer>` block) found their answer: an "answer is" phrase, math-verify's looser reading or
        the last number decided. Policies learn to lean on such rules."""
        from service.grading.math.extraction import answer_section, extract_answer

        right = select(ScoreRecord.item_pk).where(ScoreRecord.name == component, ScoreRecord.value >= 1.0)
        query = select(ItemRecord).where(ItemRecord.run == run, ItemRecord.id.in_(right))
        found = []
        with Session(self.engine) as session:
            for row in session.scalars(query.order_by(ItemRecord.id.desc()).limit(5000)):
                section = answer_section(_answer_text(row))
                extraction = extract_answer(section) if section is not None else None
                if extraction is None or extraction.method == "phrase":
                    found.append(_summary(row))
                    if len(found) == limit:
                        break
        return found

    def components(self, run: str) -> list[str]:
        return self._distinct_scores(run, ScoreRecord.name)

    def error_kinds(self, run: str) -> list[str]:
        return self._distinct_scores(run, ScoreRecord.error_kind)

    def _distinct_scores(self, run: str, column: Any) -> list[str]:
        """The values of one column of a run's scores, each once, sorted (nulls and empties left out)."""
        query = (
            select(column)
            .join(ItemRecord, ScoreRecord.item_pk == ItemRecord.id)
            .where(ItemRecord.run == run, column.is_not(None))
            .distinct()
        )
        with self.engine.connect() as connection:
            return sorted(value for (value,) in connection.execute(query) if value)


def _sqlite_pragmas(connection: Any, _: Any) -> None:
    """WAL: readers (the page) never block the writer, and a commit survives the process being killed."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _rate(items: int, ms: float) -> float | None:
    return items / (ms / 1000) if ms else None


def _insert(connection: Any, request: ScoredRequest) -> None:
    """Core inserts (not ORM objects): recording must cost the scoring server little CPU."""
    request_id = connection.execute(
        insert(RequestRecord).returning(RequestRecord.id),
        {
            "time": request.time,
            "run": request.run,
            "step": request.step,
            "weights": json.dumps(request.weights),
            "params": json.dumps(request.params, default=str),
            "profile": request.profile,
            "item_count": request.item_count if request.item_count is not None else len(request.items),
            "elapsed_ms": request.elapsed_ms,
        },
    ).scalar_one()
    if not request.items:
        return
    rows = [
        (
            request_id,
            request.run,
            request.step,
            item.item_id[:200],
            item.group[:200] if item.group is not None else None,
            item.prompt,
            item.completion,
            item.chat,
            item.answer,
            _finite(item.reward),
            item.length,
        )
        for item in request.items
    ]
    pks: Any
    if connection.dialect.name == "sqlite":
        # One writer at a time holds the file: the new rowids are the next ones, in order.
        _insert_rows(connection, "items", ITEM_COLUMNS, rows)
        last = connection.exec_driver_sql("SELECT last_insert_rowid()").scalar_one()
        pks = range(last - len(rows) + 1, last + 1)
    else:
        added = insert(ItemRecord).returning(ItemRecord.id, sort_by_parameter_order=True)
        pks = connection.execute(added, [dict(zip(ITEM_COLUMNS, row, strict=True)) for row in rows]).scalars()
    score_rows = [
        (
            pk,
            name[:100],
            None if value is None else _finite(value),
            error_kind(item.errors[name]) if name in item.errors else None,
            item.errors.get(name),
        )
        for pk, item in zip(pks, request.items, strict=True)
        for name, value in item.scores.items()
    ]
    if score_rows:
        _insert_rows(connection, "scores", ("item_pk", "name", "value", "error_kind", "error"), score_rows)


ITEM_COLUMNS = (
    "request_id",
    "run",
    "step",
    "item_id",
    "group_name",
    "prompt",
    "completion",
    "chat",
    "answer",
    "reward",
    "length",
)


def _insert_rows(connection: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """The driver's own executemany: half the CPU of SQLAlchemy's per-row parameter handling, which
    matters on a server that scores while it records. Names are constants of this module."""
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    marks = ", ".join([mark] * len(columns))
    connection.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


def _finite(value: float) -> float:
    """NaN and infinities are not portable SQL values: clamp them."""
    if math.isnan(value):
        return 0.0
    return max(min(value, 1e300), -1e300)


def _summary(row: ItemRecord) -> dict[str, Any]:
    return {
        "pk": row.id,
        "id": row.item_id,
        "group": row.group_name,
        "step": row.step,
        "reward": row.reward,
        "length": row.length,
        "scores": {score.name: score.value for score in row.scores},
        "errors": {score.name: score.error for score in row.scores if score.error},
        "preview": row.completion[:200] if not row.chat else _chat_preview(row.completion),
    }


def _detail(row: ItemRecord) -> dict[str, Any]:
    return {
        **_summary(row),
        "prompt": row.prompt,
        "completion": json.loads(row.completion) if row.chat else row.completion,
        "chat": row.chat,
        "answer": row.answer,
        "request": row.request_id,
    }


def _answer_text(row: ItemRecord) -> str:
    """The completion's text, or a trajectory's last assistant turn."""
    if not row.chat:
        return row.completion
    return _chat_preview(row.completion, limit=None)


def _chat_preview(completion: str, limit: int | None = 200) -> str:
    try:
        messages = json.loads(completion)
    except json.JSONDecodeError:
        return completion[:limit]
    texts = [
        str(m.get("content") or "") for m in messages if isinstance(m, dict) and m.get("role") == "assistant"
    ]
    return (texts[-1] if texts else "")[:limit]


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"
