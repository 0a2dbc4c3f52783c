"""`POST /v1/select`: scored rollouts in, TRL training rows out (`service.selection`)."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Depends

from service.api.dependencies import get_settings
from service.api.errors import APIError, check_count
from service.api.schemas import SelectRequest, SelectResponse
from service.grading.errors import GradingError
from service.selection.recipes import select
from service.selection.rows import summary_of, training_rows
from service.settings import Settings

router = APIRouter(prefix="/v1", tags=["training data"])


@router.post("/select", response_model=SelectResponse, summary="Training data from scored rollouts")
async def select_rows(request: SelectRequest, settings: Settings = Depends(get_settings)) -> SelectResponse:
    """Per rollout group: `rejection` keeps the best `k` passing items, `shortest` the `k` shortest,
    `pairs` builds chosen (passing, short) / rejected (failing, or passing and long) pairs. The rows
    are what TRL's `SFTTrainer` and `DPOTrainer` read; the summary says what was dropped and why."""
    check_count(len(request.items), settings.max_items, ["body", "items"], "items")

    def run() -> SelectResponse:
        selection = select(
            request.items,
            request.recipe,
            request.where,
            k=request.k,
            min_length_ratio=request.min_length_ratio,
            max_pairs=request.max_pairs,
            dedupe_threshold=request.dedupe_threshold,
            seed=request.seed,
            tokenizer=request.tokenizer,
        )
        rows = training_rows(request.items, selection, request.meta)
        return SelectResponse(rows=rows, summary=summary_of(request.items, selection))

    try:
        return await anyio.to_thread.run_sync(run)
    except GradingError as exc:  # the tokenizer named cannot be loaded
        raise APIError.at(422, ["body", "tokenizer"], exc.detail, exc.kind.value) from None
