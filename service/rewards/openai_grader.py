"""`openai_grader`: an OpenAI reinforcement fine-tuning grader config as a reward."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from service.grading.errors import ErrorKind
from service.grading.graders.config import AnyGrader, Grader
from service.grading.graders.engine import Backends, Namespace, grade_batch, sample_namespace
from service.grading.reasoning import after_reasoning
from service.items import Item
from service.rewards.base import RewardContext, Score
from service.runtime.judges import JudgeVerifier
from service.runtime.resources import Resources

_GRADER = TypeAdapter(Grader)


class OpenAIGraderParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grader: Grader | None = Field(
        None, description="The grader for every item; an item's own `grader` field overrides it."
    )
    think_tag: str | None = Field(
        "think",
        description="`sample.output_text` is what follows the last `</think>` (the reasoning is not "
        "the output, as in OpenAI's samples); null keeps the whole text.",
    )


def backends_of(resources: Resources) -> Backends:
    """The sandbox (python graders) and the verifier (model graders) of this server, if it has them."""
    pool = resources.sandboxes
    return Backends(
        sandbox=pool.get if pool is not None else None,
        completer=resources.verifier,
        python_concurrency=pool.concurrency if pool is not None else 1,
    )


def output_text(item: Item, think_tag: str | None) -> str:
    """The final assistant text: the last assistant turn, after its reasoning block."""
    return after_reasoning(item.text, think_tag).strip()


def tool_calls(item: Item) -> list[dict[str, Any]]:
    """The structured tool calls of the assistant turns (`sample.output_tools`)."""
    if not isinstance(item.completion, list):
        return []
    calls: list[dict[str, Any]] = []
    for message in item.completion:
        if message.role == "assistant":
            calls += [c for c in message.tool_calls or [] if isinstance(c, dict)]
    return calls


def namespace_of(item: Item, think_tag: str | None) -> Namespace:
    fields = item.model_dump(exclude={"completion", "grader"}, exclude_none=True)
    return {"item": fields, "sample": sample_namespace(output_text(item, think_tag), tool_calls(item))}


def _grader_of(item: Item, default: AnyGrader | None) -> AnyGrader | str:
    """The item's grader, the params' grader, or why there is none."""
    raw = item.get("grader")
    if raw is None:
        return (
            default if default is not None else "no grader: give params.openai_grader.grader or item.grader"
        )
    try:
        return _GRADER.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        return f"item.grader.{'.'.join(map(str, first['loc']))}: {first['msg']}"


def failure_kind(flags: Mapping[str, str], judged: bool) -> ErrorKind:
    """A served judge that failed or answered nothing readable is said so, as every judge reward does."""
    if judged and "model_grader_server_error" in flags:
        return ErrorKind.judge_unavailable
    if judged and "model_grader_parse_error" in flags:
        return ErrorKind.judge_unparsable
    return ErrorKind.grader_error


def openai_grader_reward(
    items: Sequence[Item], params: OpenAIGraderParams, ctx: RewardContext
) -> list[Score]:
    """An OpenAI grader (`string_check`, `text_similarity`, `python`, `score_model`, `label_model`,
    `multi`) on the final assistant text; a raised error flag makes the score null with the flags.

    `sample.output_text` is the last assistant turn after its reasoning, `sample.output_tools` its
    tool calls, `item` the item's fields. A multi grader's sub-rewards come back as
    `openai_grader/<name>`."""
    scores: list[Score | None] = [None] * len(items)
    batches: dict[str, tuple[AnyGrader, list[int]]] = {}
    for index, item in enumerate(items):
        grader = _grader_of(item, params.grader)
        if isinstance(grader, str):
            scores[index] = Score.fail(ErrorKind.invalid_item, grader)
            continue
        batches.setdefault(grader.model_dump_json(), (grader, []))[1].append(index)
    backends = backends_of(ctx.resources)
    judged = isinstance(ctx.resources.verifier, JudgeVerifier)
    for grader, indices in batches.values():
        namespaces = [namespace_of(items[i], params.think_tag) for i in indices]
        for index, result in zip(indices, grade_batch(grader, namespaces, backends), strict=True):
            parts: dict[str, float | None] = dict(result.sub_rewards)
            scores[index] = (
                Score.fail(failure_kind(result.flags, judged), result.explain(), parts)
                if result.failed
                else Score(result.reward, parts=parts)
            )
    return [s if s is not None else Score.fail(ErrorKind.internal_error, "not graded") for s in scores]
