"""Reward jobs: submit a batch, poll its results as they come, cancel it (`/v1/rewards/jobs`).

Every job's items are cut into units (an item, or a rollout group when a reward compares the
group) and a fixed set of workers scores units from all jobs. The next unit comes from the highest
`priority` that has work, and within it from each run in turn (`run` of the request, else
`default`), so an evaluation job at a lower priority waits for training, and a run that submitted a
huge job cannot hold another run's small one back: they alternate unit by unit.

Bounded: jobs hold at most `job_max_queued_items` unscored items (more is 429 with `Retry-After`),
and a finished job is forgotten `job_ttl_s` after it finished.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Literal

from service.api.errors import APIError
from service.api.schemas import ItemResult, JobStatus
from service.api.scoring import Plan, failed_items, score_items, stream_units
from service.rewards.base import Registry
from service.runtime.resources import Resources

State = Literal["queued", "running", "done", "cancelled"]


MAX_JOBS = 10_000  # jobs known at once (finished ones until they expire)


@dataclass
class Job:
    id: str
    plan: Plan | None
    """None once it finished: its items are not kept for the TTL, only its results."""
    run: str
    priority: int
    units: int
    items: int
    created: float = field(default_factory=time.time)
    finished_at: float | None = None
    state: State = "queued"
    results: list[ItemResult] = field(default_factory=list)
    scored_units: int = 0
    notes: dict[str, None] = field(default_factory=dict)

    def status(self, since: int = 0) -> JobStatus:
        return JobStatus(
            job_id=self.id,
            status=self.state,
            run=self.run,
            priority=self.priority,
            items=self.items,
            scored=len(self.results),
            results=self.results[since:],
            notes=list(self.notes),
            created=self.created,
            finished=self.finished_at,
        )


class JobQueue:
    """The jobs of one server process, and the workers that score their units."""

    def __init__(
        self, registry: Registry, resources: Resources, workers: int, max_queued_items: int, ttl_s: float
    ) -> None:
        self.registry = registry
        self.resources = resources
        self.workers = workers
        self.max_queued_items = max_queued_items
        self.ttl_s = ttl_s
        self.jobs: dict[str, Job] = {}
        self.pending: dict[int, OrderedDict[str, deque[tuple[Job, list[int]]]]] = {}
        self.queued_items = 0
        self._wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # The API ------------------------------------------------------------------------------------

    def submit(self, plan: Plan, priority: int) -> Job:
        self.expire()
        items = len(plan.request.items)
        if items > self.max_queued_items:
            raise APIError.at(
                413,
                ["body", "items"],
                f"{items} items is more than a job may hold ({self.max_queued_items})",
                "too_many_items",
            )
        if len(self.jobs) >= MAX_JOBS:
            raise APIError.at(
                429,
                ["body"],
                f"{len(self.jobs)} jobs are known: poll or cancel some, or wait for them to expire",
                "too_many_jobs",
                headers={"Retry-After": "5"},
            )
        if self.queued_items + items > self.max_queued_items:
            raise APIError.at(
                429,
                ["body", "items"],
                f"{self.queued_items} items are queued; {items} more would pass the limit of "
                f"{self.max_queued_items}: retry later",
                "queue_full",
                headers={"Retry-After": "5"},
            )
        units = stream_units(plan, self.registry)
        job = Job(secrets.token_hex(8), plan, plan.request.run or "default", priority, len(units), items)
        self.jobs[job.id] = job
        runs = self.pending.setdefault(priority, OrderedDict())
        runs.setdefault(job.run, deque()).extend((job, unit) for unit in units)
        self.queued_items += items
        if job.units == 0:
            self.finish(job, "done")
        self.start()
        assert self._wake is not None
        self._wake.set()
        return job

    def get(self, job_id: str) -> Job:
        self.expire()
        job = self.jobs.get(job_id)
        if job is None:
            raise APIError.at(
                404, ["path", "job_id"], f"no job {job_id!r} (unknown, or expired)", "unknown_job"
            )
        return job

    def cancel(self, job_id: str) -> Job:
        """Its units not started are dropped at once; the few being scored finish (their sandbox
        runs and judge calls keep their own limits) and are not reported."""
        job = self.get(job_id)
        if job.state in ("queued", "running"):
            for runs in self.pending.values():
                for run, units in list(runs.items()):
                    kept = deque(unit for unit in units if unit[0] is not job)
                    self.queued_items -= sum(len(indices) for owner, indices in units if owner is job)
                    if kept:
                        runs[run] = kept
                    else:
                        del runs[run]
            self.finish(job, "cancelled")
        return job

    async def close(self) -> None:
        """Cancel the workers and wait for them, so nothing scores on resources about to close."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    # Scheduling -----------------------------------------------------------------------------------

    def start(self) -> None:
        """The workers, on the running event loop, at the first job."""
        if self._tasks:
            return
        self._wake = asyncio.Event()
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self.workers)]

    def next_unit(self) -> tuple[Job, list[int]] | None:
        """The highest priority with work; within it the next run in turn; that run's oldest unit."""
        for priority in sorted(self.pending, reverse=True):
            runs = self.pending[priority]
            if not runs:
                del self.pending[priority]
                continue
            run, units = next(iter(runs.items()))
            job, indices = units.popleft()
            if units:
                runs.move_to_end(run)  # round-robin: the other runs go first next time
            else:
                del runs[run]
            return job, indices
        return None

    async def _work(self) -> None:
        assert self._wake is not None
        while True:
            unit = self.next_unit()
            if unit is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            job, indices = unit
            plan = job.plan
            if plan is None:  # finished (cancelled) while this unit waited
                continue
            job.state = "running" if job.state == "queued" else job.state
            try:
                scored = await score_items(plan, indices, self.registry, self.resources)
            except Exception as exc:  # a bug in the engine costs these items, not the queue
                scored = failed_items(plan, indices, f"{type(exc).__name__}: {exc}")
            self.queued_items -= len(indices)  # a cancelled job's running units too: cancel took the rest
            if job.state == "cancelled":
                continue
            job.results += scored.results
            job.notes.update(dict.fromkeys(scored.notes))
            job.scored_units += 1
            if job.scored_units == job.units:
                self.finish(job, "done")

    def finish(self, job: Job, state: State) -> None:
        job.state = state
        job.finished_at = time.time()
        job.plan = None

    def expire(self) -> None:
        """Forget finished jobs past their TTL (their results go with them)."""
        now = time.time()
        for job_id, job in list(self.jobs.items()):
            if job.finished_at is not None and now - job.finished_at >= self.ttl_s:
                del self.jobs[job_id]
