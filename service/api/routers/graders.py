"""OpenAI's grader endpoints, same paths and bodies: `OpenAI(base_url="http://host:8000/v1")` then
`client.fine_tuning.alpha.graders.run(...)` / `.validate(...)` work against Referee."""

from __future__ import annotations

import time

import anyio
from fastapi import APIRouter, Depends

from service.api.dependencies import get_resources
from service.api.errors import APIError, error_entry
from service.api.schemas import (
    GraderErrors,
    GraderMetadata,
    GraderRunRequest,
    GraderRunResponse,
    GraderValidateRequest,
    GraderValidateResponse,
)
from service.grading.graders.config import AnyGrader, ModelGrader, MultiGrader, PythonGrader, problems
from service.grading.graders.engine import grade_batch, sample_namespace
from service.rewards.openai_grader import backends_of
from service.runtime import metrics
from service.runtime.resources import Resources

router = APIRouter(prefix="/v1/fine_tuning/alpha/graders", tags=["graders"])


@router.post("/run", response_model=GraderRunResponse, summary="Run a grader on one sample (OpenAI's API)")
async def run_grader(
    request: GraderRunRequest, resources: Resources = Depends(get_resources)
) -> GraderRunResponse:
    """A grader failure is not an HTTP error: the reward is 0 and `metadata.errors` says why."""
    namespace = {"item": request.item, "sample": sample_namespace(request.model_sample)}
    started = time.perf_counter()
    with metrics.REQUEST_LATENCY.labels("/v1/fine_tuning/alpha/graders/run").time():
        [result] = await anyio.to_thread.run_sync(
            grade_batch, request.grader, [namespace], backends_of(resources)
        )
    models = list(result.usage)
    return GraderRunResponse(
        reward=result.reward,
        metadata=GraderMetadata(
            name=request.grader.name,
            type=request.grader.type,
            errors=GraderErrors.model_validate(result.error_flags()),
            execution_time=time.perf_counter() - started,
            scores=result.scores,
            token_usage=result.token_usage,
            sampled_model_name=models[0] if models else None,
            details=[f"{flag}: {detail}" for flag, detail in result.flags.items()],
        ),
        sub_rewards=result.sub_rewards,
        model_grader_token_usage_per_model=result.usage,
    )


@router.post("/validate", response_model=GraderValidateResponse, summary="Check a grader (OpenAI's API)")
def validate_grader(
    request: GraderValidateRequest, resources: Resources = Depends(get_resources)
) -> GraderValidateResponse:
    """422 naming the field for what `run` would report as an error flag on every sample: a formula
    or python source that does not parse, a template that does not parse, a model grader on a
    server without a grader model, a python grader on a server without a sandbox."""
    grader = request.grader
    errors = [
        error_entry(["body", "grader", *loc], message, "invalid_grader") for loc, message in problems(grader)
    ]
    for loc, sub in _leaves(grader):
        if isinstance(sub, ModelGrader) and resources.verifier is None:
            errors.append(
                error_entry(
                    ["body", "grader", *loc, "model"],
                    "model graders need a grader model: start the server with --rm-model PATH_OR_NAME",
                    "grader_unavailable",
                )
            )
        if isinstance(sub, PythonGrader) and resources.sandboxes is None:
            errors.append(
                error_entry(
                    ["body", "grader", *loc, "source"], "this server has no sandbox", "grader_unavailable"
                )
            )
    if errors:
        raise APIError(422, errors)
    return GraderValidateResponse(grader=grader)


def _leaves(grader: AnyGrader) -> list[tuple[list[str], AnyGrader]]:
    if isinstance(grader, MultiGrader):
        return [(["graders", key], sub) for key, sub in grader.graders.items()]
    return [([], grader)]
