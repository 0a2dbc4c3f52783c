"""The `verifier` resource: the configured reward model behind a dynamic batcher (or another
Referee, or a Ray deployment), all behind one `Verifier` protocol."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol

from clients.batching import BatchStats, DynamicBatcher
from rm_models.verdicts import ChatOptions, Completion, Judgement, Verdict
from service.grading.errors import ErrorKind
from service.runtime import metrics
from service.settings import Settings

if TYPE_CHECKING:  # torch is only needed where the model runs, not for a RemoteVerifier
    from rm_models.verifier import GenerativeVerifier, ScalarRewardModel


class Verifier(Protocol):
    """What `cot_rm` needs (verdicts for judgements) and OpenAI-style model graders need (answers to
    chats). Local, remote and Ray verifiers all fit."""

    def score(self, judgements: list[Judgement]) -> list[Verdict]: ...

    def complete(
        self, chats: list[list[dict[str, str]]], options: ChatOptions | None = None
    ) -> list[Completion]: ...

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


class BatchedVerifier:
    """Items from every concurrent request share model batches; each request gets its own verdicts."""

    def __init__(
        self, model: GenerativeVerifier | ScalarRewardModel, max_batch_size: int, max_wait_ms: float
    ) -> None:
        self.model = model
        self._model_lock = threading.Lock()  # two batchers, one model: one batch on it at a time
        self._last_tokens = 0
        self.batcher = DynamicBatcher(
            self._score, max_batch_size, max_wait_ms, on_batch=self._record, name="rm-batcher"
        )
        self.chat_batcher = DynamicBatcher(
            self._complete, max_batch_size, max_wait_ms, on_batch=self._record, name="rm-chat-batcher"
        )

    def _score(self, batch: list[Judgement]) -> list[Verdict]:
        with self._model_lock:
            verdicts = self.model.score(batch)
        self._last_tokens = sum(v.tokens for v in verdicts)
        return verdicts

    def _complete(self, batch: list[list[dict[str, str]]]) -> list[Completion]:
        if not hasattr(self.model, "complete"):
            why = "the server's reward model is a scalar classifier; model graders need --rm-mode cot"
            return [Completion("", error=why)] * len(batch)
        with self._model_lock:
            completions = self.model.complete(batch)
        self._last_tokens = sum(c.completion_tokens for c in completions)
        return completions

    def _record(self, stats: BatchStats) -> None:
        metrics.RM_BATCH_SIZE.observe(stats.size)
        metrics.RM_QUEUE_WAIT.observe(stats.queue_wait_s)
        if stats.seconds > 0:
            metrics.RM_TOKENS_PER_SECOND.set(self._last_tokens / stats.seconds)

    def score(self, judgements: list[Judgement]) -> list[Verdict]:
        return self.batcher.map(judgements)

    def complete(
        self, chats: list[list[dict[str, str]]], options: ChatOptions | None = None
    ) -> list[Completion]:
        return self.chat_batcher.map(chats)

    def describe(self) -> dict[str, Any]:
        return self.model.describe()

    def close(self) -> None:
        self.batcher.close()
        self.chat_batcher.close()


class RemoteVerifier:
    """`cot_rm` computed by another Referee that has the model (so this one can run on CPU nodes)."""

    def __init__(self, url: str, api_key: str | None = None) -> None:
        from clients.client import RefereeClient

        self.url = url
        self.client = RefereeClient(url, api_key=api_key)

    def score(self, judgements: list[Judgement]) -> list[Verdict]:
        items = [{"prompt": j.question, "answer": j.reference, "completion": j.response} for j in judgements]
        try:
            response = self.client.score(items, rewards={"cot_rm": 1.0})
        except Exception as exc:  # the remote is down or refused: these items are null, the batch goes on
            return [Verdict(None, f"remote reward model at {self.url} failed: {exc}")] * len(judgements)
        return [Verdict(r.scores.get("cot_rm"), _own_error(r.errors.get("cot_rm"))) for r in response.results]

    def complete(
        self, chats: list[list[dict[str, str]]], options: ChatOptions | None = None
    ) -> list[Completion]:
        why = f"the reward model is remote ({self.url}); run model graders on that Referee"
        return [Completion("", error=why)] * len(chats)

    def describe(self) -> dict[str, Any]:
        try:
            remote = {r["name"]: r for r in self.client.rewards()["rewards"]}.get("cot_rm", {})
            return {"remote": self.url, **remote.get("info", {})}
        except Exception as exc:
            return {"remote": self.url, "error": str(exc)}

    def close(self) -> None:
        self.client.close()


def _own_error(error: str | None) -> str | None:
    """The remote's `model_error: <why>` without its kind, which `cot_rm` adds again."""
    prefix = f"{ErrorKind.model_error.value}: "
    return error[len(prefix) :] if error is not None and error.startswith(prefix) else error


def build_verifier(settings: Settings) -> BatchedVerifier:
    from rm_models.verifier import GenerativeVerifier, ScalarRewardModel

    if settings.rm_model is None:
        raise ValueError("no reward model configured: set --rm-model")
    mode = settings.rm_mode
    if mode == "scalar":
        model: GenerativeVerifier | ScalarRewardModel = ScalarRewardModel(
            settings.rm_model, settings.rm_device
        )
    else:
        model = GenerativeVerifier(
            settings.rm_model, settings.rm_template, mode, settings.rm_device, settings.rm_max_new_tokens
        )
    return BatchedVerifier(model, settings.rm_max_batch_size, settings.rm_max_wait_ms)
