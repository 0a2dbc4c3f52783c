"""`/v1/rewards/jobs`: submit a batch and get a job id at once, poll its results, cancel it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from service.api.dependencies import Scorer, get_scorer
from service.api.jobs import JobQueue
from service.api.schemas import JobRequest, JobStatus
from service.api.scoring import plan_request

router = APIRouter(prefix="/v1/rewards/jobs", tags=["jobs"])


async def get_jobs(request: Request, scorer: Scorer = Depends(get_scorer)) -> JobQueue:
    """The server's job queue, made at the first job (on the resources startup built). Async: on the
    event loop, so two first jobs cannot make two queues."""
    state = request.app.state
    if state.jobs is None:
        settings = scorer.settings
        state.jobs = JobQueue(
            scorer.registry,
            scorer.resources,
            settings.stream_concurrency,
            settings.job_max_queued_items,
            settings.job_ttl_s,
        )
    jobs: JobQueue = state.jobs
    return jobs


@router.post(
    "", response_model=JobStatus, status_code=202, summary="Submit a batch to score in the background"
)
async def submit(
    request: JobRequest, scorer: Scorer = Depends(get_scorer), jobs: JobQueue = Depends(get_jobs)
) -> JobStatus:
    """Checked at once (a bad request is its 4xx now, not a failed job later); 429 with `Retry-After`
    when the queue is full."""
    settings = scorer.settings
    plan = plan_request(request, scorer.registry, scorer.resources, settings.max_items, settings.only)
    return jobs.submit(plan, request.priority).status()


@router.get("/{job_id}", response_model=JobStatus, summary="A job's status and results so far")
async def status(
    job_id: str,
    since: int = Query(0, ge=0, description="Skip the first `since` results (the ones already read)."),
    jobs: JobQueue = Depends(get_jobs),
) -> JobStatus:
    return jobs.get(job_id).status(since)


@router.delete("/{job_id}", response_model=JobStatus, summary="Cancel a job")
async def cancel(job_id: str, jobs: JobQueue = Depends(get_jobs)) -> JobStatus:
    """Its units not started are dropped; the results it has stay readable until it expires."""
    return jobs.cancel(job_id).status()
