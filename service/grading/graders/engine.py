"""Run an OpenAI-style grader over a batch of samples: one `GraderResult` per sample, never a raise.

Samples are graded together so the slow graders batch: python graders run side by side in the
sandbox, model graders send every sample's prompt to the grader model in one call (the verifier's
dynamic batcher then mixes them with other requests' prompts).
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from rm_models.verdicts import ChatOptions, Completion
from sandboxes import Sandbox, SandboxUnavailable
from sandboxes.base import RunRequest, RunResult, Status
from service.grading.graders.config import (
    AnyGrader,
    LabelModelGrader,
    ModelGrader,
    MultiGrader,
    PythonGrader,
    ScoreModelGrader,
    StringCheckGrader,
    TextSimilarityGrader,
)
from service.grading.graders.formula import FormulaError, compile_formula
from service.grading.graders.outcome import GraderResult
from service.grading.graders.similarity import MetricUnavailable, similarity
from service.grading.graders.templates import SampleParseError, TemplateVariableError, render
from service.grading.numbers import finite_number

PYTHON_OUTPUT_BYTES = 1 << 20
PYTHON_GRADER_PACKAGES = "/usr/local/lib/referee/python-graders"
"""Packages OpenAI's python graders can import (rapidfuzz, numpy), installed by `make system-deps`
under /usr, the part of the host a sandbox sees."""

Namespace = Mapping[str, Any]
"""What templates and python graders see: `{"item": {...}, "sample": {...}}`."""


class Completer(Protocol):
    """The grader model: the server's verifier."""

    def complete(
        self, chats: list[list[dict[str, str]]], options: ChatOptions | None = None
    ) -> list[Completion]: ...

    def describe(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Backends:
    """Where graders that run something run it; None when the server has no such thing."""

    sandbox: Callable[[], Sandbox] | None = None
    completer: Completer | None = None
    python_concurrency: int = 4
    python_time_limit_s: float = 120.0
    """OpenAI's limits for a python grader: 2 minutes, 2 GB."""
    python_memory_mb: int = 2048


def sample_namespace(output_text: str, tool_calls: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """OpenAI's `sample`: the text, its JSON when it is JSON, the tool calls, and a `choices` view."""
    try:
        output_json = json.loads(output_text)
    except (ValueError, RecursionError):
        output_json = None
    tools = [dict(call) for call in tool_calls]
    message = {"role": "assistant", "content": output_text, "tool_calls": tools}
    return {
        "output_text": output_text,
        "output_json": output_json,
        "output_tools": tools,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tools else "stop"}],
    }


def grade_batch(grader: AnyGrader, namespaces: Sequence[Namespace], backends: Backends) -> list[GraderResult]:
    """One result per namespace, in order."""
    if isinstance(grader, MultiGrader):
        return _multi(grader, namespaces, backends)
    if isinstance(grader, StringCheckGrader | TextSimilarityGrader):
        return [_rule(grader, namespace) for namespace in namespaces]
    if isinstance(grader, PythonGrader):
        return _python(grader, namespaces, backends)
    return _model(grader, namespaces, backends)


def _rendered(result: GraderResult, source: str, namespace: Namespace) -> str | None:
    """`source` rendered, or None with the flag raised on `result`."""
    try:
        return render(source, namespace)
    except SampleParseError as exc:
        result.fail("sample_parse_error", str(exc))
    except TemplateVariableError as exc:
        result.fail("invalid_variable_error", str(exc))
    except ValueError as exc:  # a template that does not parse
        result.fail("other_error", str(exc))
    return None


def _rule(grader: StringCheckGrader | TextSimilarityGrader, namespace: Namespace) -> GraderResult:
    result = GraderResult()
    given, reference = (
        _rendered(result, grader.input, namespace),
        _rendered(result, grader.reference, namespace),
    )
    if given is None or reference is None:
        return result
    if isinstance(grader, StringCheckGrader):
        checks = {
            "eq": given == reference,
            "ne": given != reference,
            "like": reference in given,
            "ilike": reference.lower() in given.lower(),
        }
        result.reward = float(checks[grader.operation])
        return result
    try:
        result.reward = similarity(grader.evaluation_metric, given, reference)
    except MetricUnavailable as exc:
        return result.fail("other_error", str(exc))
    if grader.pass_threshold is not None:
        result.scores["passed"] = result.reward >= grader.pass_threshold
    return result


def _multi(grader: MultiGrader, namespaces: Sequence[Namespace], backends: Backends) -> list[GraderResult]:
    results = [GraderResult() for _ in namespaces]
    try:
        formula = compile_formula(grader.calculate_output, set(grader.graders))
    except FormulaError as exc:
        flag = "invalid_variable_error" if exc.unknown_names else "formula_parse_error"
        return [result.fail(flag, str(exc)) for result in results]
    parts = {name: grade_batch(sub, namespaces, backends) for name, sub in grader.graders.items()}
    for index, result in enumerate(results):
        for name, sub_results in parts.items():
            result.absorb(sub_results[index])
            result.sub_rewards[name] = sub_results[index].reward
        result.scores = dict(result.sub_rewards)
        if result.failed:
            continue
        try:
            value = formula.evaluate(result.sub_rewards)
        except Exception as exc:  # OverflowError, ZeroDivisionError, a domain error, max() of nothing
            result.fail("other_error", f"calculate_output: {type(exc).__name__}: {exc}")
            continue
        if not math.isfinite(value):
            result.fail("other_error", f"calculate_output gave {value}")
            continue
        result.reward = value
    return results


# The python grader's harness: runs `grade` on the JSON from stdin and prints its result after a
# line no grader output can forge (a fresh random nonce per run).
_HARNESS = f"""\
import json, math, sys, traceback
sys.path.append({PYTHON_GRADER_PACKAGES!r})
def main(dumps=json.dumps, write=sys.stdout.write):
    payload = json.loads(sys.stdin.read())
    nonce = payload.pop("nonce")
    namespace = {{"__name__": "grader"}}
    try:
        with open("grader.py", encoding="utf-8") as source:
            exec(compile(source.read(), "grader.py", "exec"), namespace)
        value = namespace["grade"](payload["sample"], payload["item"])
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise TypeError("grade() returned %r, not a finite number" % (value,))
        outcome = {{"reward": float(value)}}
    except BaseException:
        outcome = {{"error": traceback.format_exc(limit=-4)[-3000:]}}
    sys.stdout.flush()
    write("\\n" + nonce + dumps(outcome) + "\\n")
main()
"""


def _python(grader: PythonGrader, namespaces: Sequence[Namespace], backends: Backends) -> list[GraderResult]:
    if backends.sandbox is None:
        return [GraderResult().fail("python_grader_server_error", "sandbox_unavailable") for _ in namespaces]
    try:
        sandbox = backends.sandbox()
    except (SandboxUnavailable, ValueError) as exc:
        return [
            GraderResult().fail("python_grader_server_error", f"sandbox_unavailable: {exc}")
            for _ in namespaces
        ]

    def run(namespace: Namespace) -> GraderResult:
        nonce = secrets.token_hex(16)
        try:
            stdin = json.dumps({"sample": namespace["sample"], "item": namespace["item"], "nonce": nonce})
        except (TypeError, ValueError) as exc:
            return GraderResult().fail("sample_parse_error", f"the sample or item is not JSON: {exc}")
        request = RunRequest(
            language="python",
            source=_HARNESS,
            files={"grader.py": grader.source},
            stdin=stdin,
            time_limit_s=backends.python_time_limit_s,
            memory_limit_mb=backends.python_memory_mb,
            output_limit_bytes=PYTHON_OUTPUT_BYTES,
        )
        try:
            run = sandbox.run(request)
        except Exception as exc:  # the sandbox itself broke: the grader is not to blame
            return GraderResult().fail("python_grader_server_error", f"sandbox_error: {exc}")
        return _python_result(run, nonce, backends)

    with ThreadPoolExecutor(max(1, min(backends.python_concurrency, len(namespaces)))) as pool:
        return list(pool.map(run, namespaces))


def _python_result(run: RunResult, nonce: str, backends: Backends) -> GraderResult:
    result = GraderResult()
    if run.status == Status.sandbox_error:
        return result.fail("python_grader_server_error", f"sandbox_error: {run.error or ''}".strip())
    if run.status == Status.timeout:
        return result.fail(
            "unresponsive_reward_error", f"grade() ran past {backends.python_time_limit_s:g} s"
        )
    if run.status == Status.output_limit:
        return result.fail("truncated_observation_error", "the grader printed more than 1 MiB")
    if run.status == Status.memory_limit:
        return result.fail(
            "python_grader_runtime_error", f"the grader used more than {backends.python_memory_mb} MB"
        )
    _, marker, last = run.stdout.rpartition(nonce)
    if not marker:
        detail = run.stderr[-2000:] or f"the grader exited ({run.status.value}) without a result"
        return result.fail("python_grader_runtime_error", detail)
    try:  # the grader ran in the same interpreter: its output is checked, not trusted
        outcome = json.loads(last)
    except (ValueError, RecursionError):
        outcome = None
    if isinstance(outcome, dict) and isinstance(outcome.get("error"), str):
        return result.fail("python_grader_runtime_error", outcome["error"])
    reward = outcome.get("reward") if isinstance(outcome, dict) else None
    if isinstance(reward, bool) or not isinstance(reward, int | float) or not math.isfinite(reward):
        detail = f"unreadable result after the grader ran: {last[:200]!r}"
        return result.fail("python_grader_runtime_error", detail)
    result.reward = float(reward)
    return result


# Appended to a model grader's prompt: a local model has no structured-output mode to force the shape.
_SCORE_FORMAT = (
    'Answer with a JSON object only: {{"steps": [{{"description": "...", "conclusion": "..."}}], '
    '"result": <a number from {low} to {high}>}}'
)
_LABEL_FORMAT = 'Answer with a JSON object only: {{"result": "<one of: {labels}>"}}'
_REFUSAL = re.compile(
    r"^\s*(i'?m sorry|i am sorry|i can(?:no|')t|i cannot|i won'?t|as an ai)\b", re.IGNORECASE
)
MAX_ANSWER_CHARS = 20_000
MAX_OBJECT_STARTS = 200


def _model(grader: ModelGrader, namespaces: Sequence[Namespace], backends: Backends) -> list[GraderResult]:
    results = [GraderResult() for _ in namespaces]
    if backends.completer is None:
        why = (
            "no grader model: start the server with --judge-url (a served judge) or --rm-model (a local one)"
        )
        return [result.fail("model_grader_server_error", why) for result in results]
    if isinstance(grader, ScoreModelGrader):
        instruction = _SCORE_FORMAT.format(low=grader.range[0], high=grader.range[1])
    else:
        instruction = _LABEL_FORMAT.format(labels=", ".join(grader.labels))
    chats: list[list[dict[str, str]]] = []
    asked: list[int] = []
    for index, (result, namespace) in enumerate(zip(results, namespaces, strict=True)):
        chat = []
        for message in grader.input:
            texts = [_rendered(result, text, namespace) for text in message.texts]
            chat.append({"role": message.role, "content": "".join(t or "" for t in texts)})
        if result.failed:
            continue
        if chat[-1]["role"] == "user":  # one user turn: some chat templates insist on alternating roles
            chat[-1] = {"role": "user", "content": f"{chat[-1]['content']}\n\n{instruction}"}
        else:
            chat.append({"role": "user", "content": instruction})
        chats.append(chat)
        asked.append(index)
    try:
        model = str(backends.completer.describe().get("model", grader.model))
        sampling = grader.sampling_params
        options = ChatOptions(
            grader.model,
            sampling.max_completions_tokens if sampling else None,
            sampling.temperature if sampling else None,
        )
        completions = backends.completer.complete(chats, options) if chats else []
    except Exception as exc:  # a closed batcher, a dead remote: every sample asked gets the flag
        for index in asked:
            results[index].fail("model_grader_server_error", f"{type(exc).__name__}: {exc}")
        return results
    for index, completion in zip(asked, completions, strict=True):
        result = results[index]
        answered_by = completion.model or model
        result.usage[answered_by] = {
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
            "total_tokens": completion.prompt_tokens + completion.completion_tokens,
        }
        result.scores["sampled_model_name"] = answered_by
        if completion.error is not None:
            result.fail("model_grader_server_error", completion.error)
            continue
        result.scores["model_output"] = completion.text[-2000:]
        if isinstance(grader, ScoreModelGrader):
            _read_score(grader, completion.text, result)
        else:
            _read_label(grader, completion.text, result)
    return results


def _last_object_with_result(text: str) -> dict[str, Any] | None:
    """The last JSON object with a `result` key in the answer's tail (bounded: model output)."""
    tail = text[-MAX_ANSWER_CHARS:]
    decoder = json.JSONDecoder()
    starts = [index for index, char in enumerate(tail) if char == "{"][-MAX_OBJECT_STARTS:]
    for start in reversed(starts):
        try:
            parsed, _ = decoder.raw_decode(tail, start)
        except (ValueError, RecursionError):
            continue
        if isinstance(parsed, dict) and "result" in parsed:
            return parsed
    return None


def _read_score(grader: ScoreModelGrader, text: str, result: GraderResult) -> None:
    parsed = _last_object_with_result(text)
    value = finite_number(parsed.get("result")) if parsed else None
    if value is None:
        flag = (
            "model_grader_refusal_error"
            if parsed is None and _REFUSAL.search(text)
            else "model_grader_parse_error"
        )
        result.fail(flag, f"no numeric `result` in the grader model's answer: {text[-300:]!r}")
        return
    low, high = grader.range
    result.reward = min(high, max(low, value))
    steps = parsed.get("steps") if parsed else None
    result.scores["steps"] = [  # flat and bounded: this is model output
        {str(key)[:100]: str(note)[:1000] for key, note in step.items()}
        for step in (steps if isinstance(steps, list) else [])[:50]
        if isinstance(step, dict)
    ]


def _read_label(grader: LabelModelGrader, text: str, result: GraderResult) -> None:
    parsed = _last_object_with_result(text)
    label = parsed.get("result") if parsed else None
    if label not in grader.labels:  # no JSON: the last label the answer names, as a whole word
        mentioned = [
            (match.start(), name)
            for name in grader.labels
            for match in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE)
        ]
        label = max(mentioned)[1] if mentioned else None
    if label is None:
        flag = "model_grader_refusal_error" if _REFUSAL.search(text) else "model_grader_parse_error"
        result.fail(flag, f"no label of {grader.labels} in the grader model's answer: {text[-300:]!r}")
        return
    result.scores["label"] = label
    result.reward = float(label in grader.passing_labels)
