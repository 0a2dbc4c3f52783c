"""`rubric` and `judge`: rewards a served judge model decides (`--judge-url`).

A judge that fails, times out or answers nothing readable gives the item `null` with
`judge_unavailable` / `judge_unparsable` in its errors, never a 0: a trainer can keep those rows
out of its update (`null_counts` in the response says how many there were).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from rm_models.openai_judge import JudgeClient, JudgeReply, JudgeRequest
from service.grading.errors import ErrorKind, ScoreError
from service.grading.judging.equivalence import equivalence_messages, read_equivalence
from service.grading.judging.rubric import (
    Aggregate,
    Criterion,
    all_criteria_messages,
    criterion_messages,
    parse_rubric,
    read_all_verdicts,
    rubric_score,
)
from service.grading.judging.verdicts import read_verdict
from service.grading.reasoning import final_response
from service.items import Item
from service.rewards.base import RewardContext, Score
from service.runtime.judges import cut_off
from service.runtime.resources import required


class JudgeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    think_tag: str | None = Field(
        "think", pattern=r"^[A-Za-z_][\w\-]*$", description="The judge reads what follows the reasoning."
    )
    max_tokens: int = Field(1024, ge=1, le=65536, description="The judge's answer budget per prompt.")
    temperature: float = Field(0.0, ge=0, le=2)
    explain: bool = Field(False, description="Put the judge's answers in the item's `errors` as a remark.")


class RubricParams(JudgeParams):
    per_criterion: bool = Field(
        True, description="One judge call per criterion (RaR's setup); false: one call for the whole rubric."
    )
    aggregate: Aggregate = Field(
        "weighted",
        description="`weighted`: satisfied weight / positive weight, clipped to [0, 1]; `all_essential`: "
        "also 0 when an essential criterion fails.",
    )


def response_of(item: Item, params: JudgeParams) -> str:
    return final_response(item.text, params.think_tag)


def ask(ctx: RewardContext, chats: Sequence[list[dict[str, str]]], params: JudgeParams) -> list[JudgeReply]:
    """Every chat of the batch in one call: they share the judge's concurrency limit with every
    other request."""
    judge: JudgeClient = required(ctx.resources.judge, "judge")
    return judge.ask([JudgeRequest(chat, None, params.max_tokens, params.temperature) for chat in chats])


def explained(score: Score, replies: Sequence[JudgeReply], params: JudgeParams) -> Score:
    if not params.explain or score.value is None:
        return score
    said = " | ".join((reply.text or "").strip()[-1000:] for reply in replies)
    return Score(score.value, ScoreError(ErrorKind.judge_reasons, said), score.parts)


def rubric_reward(items: Sequence[Item], params: RubricParams, ctx: RewardContext) -> list[Score]:
    """Rubrics as Rewards: the judge's verdict on each of the item's `rubric` criteria
    (`[{criterion, weight, essential}]`, RaR's `{title, description, weight}` too), weighted.

    Score = satisfied weight / total positive weight, clipped to [0, 1]; a negative weight is a
    pitfall that costs its weight when present. Each verdict is in `rubric/<index>`.
    """
    rubrics: list[list[Criterion] | None] = []
    chats, owners, scores = [], [], [Score.fail(ErrorKind.internal_error, "not judged")] * len(items)
    for index, item in enumerate(items):
        try:
            criteria = parse_rubric(item.get("rubric"))
        except ValueError as exc:
            scores[index] = Score.fail(ErrorKind.invalid_item, str(exc))
            rubrics.append(None)
            continue
        rubrics.append(criteria)
        question, response = item.prompt_text, response_of(item, params)
        if params.per_criterion:
            chats += [criterion_messages(question, response, c) for c in criteria]
            owners += [index] * len(criteria)
        else:
            chats.append(all_criteria_messages(question, response, criteria))
            owners.append(index)
    replies_of: dict[int, list[JudgeReply]] = {}
    for owner, reply in zip(owners, ask(ctx, chats, params), strict=True):
        replies_of.setdefault(owner, []).append(reply)
    for index, rubric in enumerate(rubrics):
        if rubric is not None:
            mine = replies_of[index]
            scores[index] = explained(judged_rubric(rubric, mine, params), mine, params)
    return scores


def judged_rubric(
    criteria: Sequence[Criterion], replies: Sequence[JudgeReply], params: RubricParams
) -> Score:
    failed = next((reply for reply in replies if reply.text is None), None)
    if failed is not None:
        return Score.fail(ErrorKind.judge_unavailable, failed.error or "no answer")
    cut = next((reply for reply in replies if reply.truncated), None)
    if cut is not None:
        return Score.fail(ErrorKind.judge_unparsable, cut_off(cut.text or ""))
    if params.per_criterion:
        verdicts = [read_verdict(reply.text or "") for reply in replies]
    else:
        verdicts = read_all_verdicts(replies[0].text or "", len(criteria))
    parts = {str(number): verdict for number, verdict in enumerate(verdicts)}
    unread = [str(number) for number, verdict in enumerate(verdicts) if verdict is None]
    if unread:
        tail = (replies[int(unread[0])] if params.per_criterion else replies[0]).text or ""
        detail = f"no verdict for criteria {', '.join(unread)}: {tail.strip()[-200:]!r}"
        return Score.fail(ErrorKind.judge_unparsable, detail, parts)
    return Score(rubric_score(criteria, [v or 0.0 for v in verdicts], params.aggregate), parts=parts)


def equivalence_scores(
    ctx: RewardContext, asked: Sequence[tuple[str, Sequence[str], str]], params: JudgeParams
) -> list[Score]:
    """(question, golds, response) -> 1.0 when the judge finds the response's answer equivalent to a
    gold, 0.0 when different, 0.0 with a `no_answer` remark when it finds no valid answer."""
    chats = [equivalence_messages(q, gold, r) for q, golds, r in asked for gold in golds]
    replies = iter(ask(ctx, chats, params))
    scores = []
    for _, golds, _ in asked:
        mine = [next(replies) for _ in golds]
        outcomes = [
            read_equivalence(reply.text) if reply.text is not None and not reply.truncated else None
            for reply in mine
        ]
        if "equivalent" in outcomes:
            score = Score(1.0)
        elif all(outcome in ("different", "invalid") for outcome in outcomes):
            score = (
                Score.remark(0.0, ErrorKind.no_answer, "the judge found no valid final answer")
                if "invalid" in outcomes
                else Score(0.0)
            )
        elif any(reply.text is None for reply in mine):
            score = Score.fail(
                ErrorKind.judge_unavailable, next(r.error for r in mine if r.text is None) or ""
            )
        else:
            unread = next(reply for reply, o in zip(mine, outcomes, strict=True) if o is None)
            text = unread.text or ""
            why = cut_off(text) if unread.truncated else f"no verdict in {text.strip()[-200:]!r}"
            score = Score.fail(ErrorKind.judge_unparsable, why)
        scores.append(explained(score, mine, params))
    return scores


def judge_reward(items: Sequence[Item], params: JudgeParams, ctx: RewardContext) -> list[Score]:
    """The judge decides whether the response's final answer is the gold `answer` (xVerify /
    CompassVerifier style: equivalent 1.0, different 0.0, no valid answer 0.0 with a remark).

    For answers no rule can compare: free-form, units in words, multiple choice written out, proofs
    with a final claim. Several golds: any equivalent one scores 1.0.
    """
    return equivalence_scores(ctx, [(i.prompt_text, i.golds, response_of(i, params)) for i in items], params)
