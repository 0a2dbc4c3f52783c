"""`math`: is the completion's final answer equal to the gold answer?"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from service.grading.errors import ErrorKind
from service.grading.math.equivalence import LogBase, VerdictTask, slow_verdict
from service.grading.math.extraction import Extraction, Section, answer_section, extract_answer
from service.items import Item
from service.rewards.base import RewardContext, Score
from service.rewards.judges import JudgeParams, equivalence_scores
from service.runtime.resources import required


class MathParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timeout_s: float = Field(
        5.0, gt=0, le=120, description="Hard per-item limit; the worker is killed past it."
    )
    log_base: LogBase = Field(
        "e",
        description="Base of a bare `\\log`. Natural by default (what `\\log` means in most math "
        "datasets and in analysis); `10` is math-verify's reading.",
    )
    think_tag: str | None = Field(
        "think",
        pattern=r"^[A-Za-z_][\w\-]*$",
        description="Reasoning tag: only what follows `</think>` can be the answer, and a reasoning "
        "block that never closes has none. `null`: completions have no reasoning block.",
    )
    prefilled_think: bool = Field(
        False,
        description="The chat template already opened the reasoning block in the prompt: a completion "
        "without the closing tag is all reasoning (no answer).",
    )
    last_number: bool = Field(
        True, description="When nothing else is found, the answer section's last number is the answer."
    )
    judge_fallback: bool = Field(
        False,
        description="Ask the served judge (`--judge-url`) when the rules cannot decide: no answer they can "
        "read, a gold sympy cannot parse, a grading timeout. The reason says the judge decided.",
    )


def math_reward(items: Sequence[Item], params: MathParams, ctx: RewardContext) -> list[Score]:
    """1.0 if the final answer after the reasoning (a box, <answer>, "the answer is", math) equals the gold.

    An `answer` list means several accepted answers: any of them scores 1.0. Referee's own rules
    (boxes, `<answer>` blocks, "the answer is") run here and exact or identical answers are decided
    without sympy; the rest, and answers only math-verify's extraction finds, go to killable worker
    processes with a hard timeout. Answers no grader should hand to sympy (power towers, huge
    factorials, 200 000-digit numbers, deep nesting) score 0 at once, the reason in `errors`.
    Identical tasks are graded once per batch.
    """
    tasks_of: list[list[VerdictTask]] = []
    verdicts: dict[VerdictTask, Score] = {}
    broken: dict[int, Score] = {}
    sections: dict[int, str] = {}  # what the judge reads if it is asked: never the reasoning
    unread: set[int] = set()  # answer sections the rules found no answer in
    for index, item in enumerate(items):
        try:
            section = answer_section(item.text, params.think_tag, params.prefilled_think)
            extraction = None if section is None else extract_answer(section)
            if section is not None:
                sections[index] = section.text
                if extraction is None:
                    unread.add(index)
            tasks = [] if section is None else verdict_tasks(item.golds, section, extraction, params)
            for task in tasks:
                if task not in verdicts:
                    verdicts.update(decided_here(task))
        except Exception as exc:  # a bug on one item's fast path must not null the batch
            tasks, broken[index] = [], Score.fail(ErrorKind.internal_error, f"{type(exc).__name__}: {exc}")
        tasks_of.append(tasks)
    pending = list(dict.fromkeys(task for tasks in tasks_of for task in tasks if task not in verdicts))
    if pending:
        pool = required(ctx.resources.math_pool, "math_pool")
        outcomes = pool.map(slow_verdict, [(task,) for task in pending], timeout=params.timeout_s)
        for task, outcome in zip(pending, outcomes, strict=True):
            verdicts[task] = Score(None, outcome.error) if outcome.error else Score(float(outcome.value))
    scores = []
    for index, tasks in enumerate(tasks_of):
        if index in broken:
            scores.append(broken[index])
        elif tasks:
            scores.append(best_of([verdicts[task] for task in tasks]))
        else:
            scores.append(Score(0.0))  # no answer section: wrong, not an error
    return with_judge_fallback(items, scores, sections, unread, ctx) if params.judge_fallback else scores


UNDECIDED = frozenset(
    {ErrorKind.gold_unparseable, ErrorKind.timeout, ErrorKind.worker_crashed, ErrorKind.worker_error}
)


def with_judge_fallback(
    items: Sequence[Item], scores: list[Score], sections: dict[int, str], unread: set[int], ctx: RewardContext
) -> list[Score]:
    """The judge's verdict, on the answer section, where the rules could not decide: a null score
    (the gold does not parse, grading timed out or crashed), or a 0 for an answer section the rules
    found no answer in. Items without an answer section (reasoning never closed) stay 0."""
    undecided = {
        index: str(score.error) if score.value is None else "no answer the rules can read"
        for index, score in enumerate(scores)
        if index in sections
        and (
            (score.value is None and score.error is not None and score.error.kind in UNDECIDED)
            or (index in unread and score.value == 0.0)
        )
    }
    if not undecided:
        return scores
    if ctx.resources.judge is None:
        ctx.notes.append("math: judge_fallback needs a served judge (--judge-url); the rules' scores stand")
        return scores
    asked = [(items[i].prompt_text, items[i].golds, sections[i]) for i in undecided]
    judged = equivalence_scores(ctx, asked, JudgeParams())
    for (index, why), score in zip(undecided.items(), judged, strict=True):
        if score.value is None and score.error is not None:
            scores[index] = Score.fail(score.error.kind, f"{why}; the judge: {score.error.detail}")
        elif score.value is not None:
            scores[index] = Score.remark(score.value, ErrorKind.judge_decided, f"{why}; decided by the judge")
    return scores


def decided_here(task: VerdictTask) -> dict[VerdictTask, Score]:
    """The task's score if the static guards or the fast path decide it, in this process; else {}."""
    refusal = task.refusal()
    if refusal is not None:
        return {task: Score.remark(0.0, ErrorKind.too_complex, refusal)}
    quick = task.quick()
    return {} if quick is None else {task: Score(float(quick))}


def verdict_tasks(
    golds: Sequence[str], section: Section, extraction: Extraction | None, params: MathParams
) -> list[VerdictTask]:
    """What to decide for one item: each gold against each reading of its answer."""
    if extraction is not None and extraction.method != "phrase":
        return [
            VerdictTask(gold, answer, log_base=params.log_base)
            for gold in golds
            for answer in extraction.candidates
        ]
    phrase = extraction.answer if extraction is not None else None
    return [
        VerdictTask(gold, None, section.text, phrase, params.log_base, params.last_number) for gold in golds
    ]


def best_of(scores: list[Score]) -> Score:
    """Against several accepted answers or readings: the best score; null only when none could be graded."""
    graded = [score for score in scores if score.value is not None]
    return max(graded, key=lambda score: score.value or 0.0) if graded else scores[0]
