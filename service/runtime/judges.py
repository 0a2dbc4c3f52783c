"""The `judge` resource: a served judge model (OpenAI protocol), with Prometheus metrics, and the same
judge as the `verifier` that `cot_rm` and model graders use when no local model is configured."""

from __future__ import annotations

import os
from typing import Any

from rm_models.openai_judge import JudgeClient, JudgeRequest
from rm_models.templates import load_template
from rm_models.verdicts import ChatOptions, Completion, Judgement, Verdict, parse_verdict
from service.runtime import metrics
from service.settings import Settings


def record_request(outcome: str, seconds: float) -> None:
    metrics.JUDGE_REQUESTS.labels(outcome).inc()
    metrics.JUDGE_LATENCY.labels(outcome).observe(seconds)


def build_judge(settings: Settings) -> JudgeClient:
    """The judge client of these settings. Without `judge_model`, the first model the judge serves
    (vLLM and SGLang serve one), so a misconfigured judge fails at startup, not on every item."""
    api_key = None
    if settings.judge_api_key_env:
        api_key = os.environ.get(settings.judge_api_key_env)
        if not api_key:
            raise ValueError(f"judge_api_key_env names {settings.judge_api_key_env}, which is not set")
    client = JudgeClient(
        settings.judge_urls,
        settings.judge_model or "",
        api_key=api_key,
        concurrency=settings.judge_concurrency,
        timeout_s=settings.judge_timeout_s,
        retry_budget_s=settings.judge_retry_budget_s,
        max_retries=settings.judge_max_retries,
        cache_size=settings.judge_cache_size,
        cache_ttl_s=settings.judge_cache_ttl_s,
        on_request=record_request,
        on_cache_hit=metrics.JUDGE_CACHE_HITS.inc,
    )
    if not client.model:
        served = client.served_models()
        if not served:
            client.close()
            raise ValueError(f"the judge at {settings.judge_urls[0]} lists no model: set --judge-model")
        client.model = served[0]
    return client


def cut_off(text: str) -> str:
    return f"the judge's answer was cut off at max_tokens (raise it): {text[-200:]!r}"


class JudgeVerifier:
    """The `Verifier` protocol over a served judge: `cot_rm` renders its template into one user turn
    and reads the verdict as with a local model; model graders' chats go as they are."""

    def __init__(self, judge: JudgeClient, template: str, max_tokens: int) -> None:
        self.judge = judge
        self.template = load_template(template)
        self.max_tokens = max_tokens

    def score(self, judgements: list[Judgement]) -> list[Verdict]:
        requests = [
            JudgeRequest(
                [{"role": "user", "content": self.template.render(j.question, j.reference, j.response)}],
                max_tokens=self.max_tokens,
            )
            for j in judgements
        ]
        verdicts = []
        for reply in self.judge.ask(requests):
            if reply.text is None:
                verdicts.append(Verdict(None, reply.error, kind="judge_unavailable"))
                continue
            score = None if reply.truncated else parse_verdict(reply.text, self.template)
            if score is None:
                why = (
                    cut_off(reply.text)
                    if reply.truncated
                    else f"no verdict in the judge's answer: {reply.text[-200:]!r}"
                )
                verdicts.append(Verdict(None, why, reply.text, reply.completion_tokens, "judge_unparsable"))
            else:
                verdicts.append(Verdict(score, None, reply.text, reply.completion_tokens))
        return verdicts

    def complete(
        self, chats: list[list[dict[str, str]]], options: ChatOptions | None = None
    ) -> list[Completion]:
        """A grader's `model` is asked for when the judge serves it; otherwise the judge's own model."""
        options = options or ChatOptions()
        asked = options.model if options.model and options.model in self.judge.served_models() else None
        max_tokens = options.max_tokens or self.max_tokens
        temperature = options.temperature or 0.0
        requests = [JudgeRequest(chat, asked, max_tokens, temperature) for chat in chats]
        return [
            Completion(
                reply.text or "", reply.prompt_tokens, reply.completion_tokens, reply.error, reply.model
            )
            for reply in self.judge.ask(requests)
        ]

    def describe(self) -> dict[str, Any]:
        return {**self.judge.describe(), "template": self.template.name}

    def close(self) -> None:
        """The judge is its own resource and closes with it."""
