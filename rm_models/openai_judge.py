"""A judge model served over the OpenAI chat-completions protocol (vLLM, SGLang, a hosted API).

RL teams serve their judge: it runs on its own GPUs behind `/v1/chat/completions`, with a limit on
what it can take at once. `JudgeClient` is how every reward asks it:

- one limit on requests in flight (`concurrency`), shared by every caller in the process, so many
  concurrent reward requests fill the judge's batch without overrunning it;
- several replicas spread round-robin; a retry goes to the next one;
- retries with backoff (honouring `Retry-After`) on 429, 5xx, timeouts and dropped connections, within
  a time budget per prompt; other 4xx are not retried;
- identical prompts within a TTL are asked once, concurrent ones included (a size-bounded cache);
- a failure is a reply with an `error`, never an exception and never a made-up verdict.

The official `openai` async client runs on a private event loop in a background thread, so the
synchronous reward functions (which run in worker threads) and async callers share one limit.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import itertools
import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

import cachetools
import openai

Messages = list[dict[str, str]]

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MAX_BACKOFF_S = 8.0


@dataclass(frozen=True)
class JudgeRequest:
    messages: Messages
    model: str | None = None
    """None: the client's default model."""
    max_tokens: int = 512
    temperature: float = 0.0

    def key(self, default_model: str) -> str:
        payload = [self.model or default_model, self.messages, self.max_tokens, self.temperature]
        return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True)
class JudgeReply:
    """The judge's text, or why there is none (`error`; the text is then None)."""

    text: str | None
    error: str | None = None
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    truncated: bool = False
    """The judge hit `max_tokens` (`finish_reason: length`): whatever verdict the text holds may be
    one it was quoting, not its own."""


OnRequest = Callable[[str, float], None]
"""Called once per HTTP attempt with its outcome (`ok`, `rate_limited`, `server_error`, `timeout`,
`connection_error`, `client_error`, `malformed`) and its latency in seconds."""


class JudgeClient:
    def __init__(
        self,
        urls: Sequence[str],
        model: str,
        *,
        api_key: str | None = None,
        concurrency: int = 8,
        timeout_s: float = 60.0,
        retry_budget_s: float = 120.0,
        max_retries: int = 4,
        cache_size: int = 10_000,
        cache_ttl_s: float = 600.0,
        backoff_base_s: float = 0.25,
        backoff_cap_s: float = MAX_BACKOFF_S,
        on_request: OnRequest | None = None,
        on_cache_hit: Callable[[], None] | None = None,
    ) -> None:
        if not urls:
            raise ValueError("a judge needs at least one URL")
        if concurrency < 1:
            raise ValueError("judge concurrency must be at least 1")
        self.urls = [url.rstrip("/") for url in urls]
        self.model = model
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.retry_budget_s = retry_budget_s
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self._on_request = on_request or (lambda outcome, seconds: None)
        self._on_cache_hit = on_cache_hit or (lambda: None)
        # The cache and the in-flight table are only touched on the client's own loop.
        self._cache: cachetools.TTLCache[str, JudgeReply] | None = (
            cachetools.TTLCache(cache_size, cache_ttl_s) if cache_size > 0 and cache_ttl_s > 0 else None
        )
        self._in_flight: dict[str, asyncio.Future[JudgeReply]] = {}
        self.cache_hits = 0
        self.active = 0
        self.peak_active = 0
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="judge-client", daemon=True)
        self._thread.start()
        self._clients, self._limit = self._call(self._start(api_key or "EMPTY"))
        self._replicas = itertools.cycle(range(len(self._clients)))
        self._models: tuple[float, list[str]] | None = None

    async def _start(self, api_key: str) -> tuple[list[openai.AsyncOpenAI], asyncio.Semaphore]:
        clients = [
            openai.AsyncOpenAI(base_url=url, api_key=api_key, max_retries=0, timeout=self.timeout_s)
            for url in self.urls
        ]
        return clients, asyncio.Semaphore(self.concurrency)

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    # The API ---------------------------------------------------------------------------------------

    def ask(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        """Every request's reply, in order; blocks the calling thread (not the judge's loop). Never
        raises: a closed client or a cancelled call gives error replies."""
        if not requests:
            return []
        if self._closed:
            return [JudgeReply(None, "the judge client is closed (the server is shutting down)")] * len(
                requests
            )
        try:
            return list(self._call(self._ask_all(requests)))
        except (asyncio.CancelledError, concurrent.futures.CancelledError, RuntimeError) as exc:
            why = f"the judge call was cancelled ({type(exc).__name__}): the server is shutting down"
            return [JudgeReply(None, why)] * len(requests)

    async def ask_async(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        """`ask` for a caller on its own event loop."""
        future: Future[list[JudgeReply]] = asyncio.run_coroutine_threadsafe(
            self._ask_all(requests), self._loop
        )
        return await asyncio.wrap_future(future)

    def served_models(self) -> list[str]:
        """The model names the judge serves, in its order (`GET /models`, looked up once a minute);
        empty if it cannot say."""
        now = time.monotonic()
        if self._models is None or now - self._models[0] > 60:
            self._models = (now, self._call(self._list_models()) if not self._closed else [])
        return self._models[1]

    def describe(self) -> dict[str, Any]:
        return {
            "judge": self.urls,
            "model": self.model,
            "concurrency": self.concurrency,
            "timeout_s": self.timeout_s,
            "cache_hits": self.cache_hits,
        }

    def close(self) -> None:
        """Pending calls end with error replies; later ones get one at once."""
        if self._closed:
            return
        self._closed = True
        # bounded: a judge that never answers must not hold the server's shutdown
        with contextlib.suppress(concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            asyncio.run_coroutine_threadsafe(self._shut_down(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    # On the judge's loop -----------------------------------------------------------------------------

    async def _ask_all(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        return list(await asyncio.gather(*(self._ask_one(request) for request in requests)))

    async def _ask_one(self, request: JudgeRequest) -> JudgeReply:
        """From the cache, from an identical request in flight, or asked. Never raises but for
        cancellation."""
        key = request.key(self.model)
        if self._cache is not None and (hit := self._cache.get(key)) is not None:
            self.cache_hits += 1
            self._on_cache_hit()
            return replace(hit, cached=True)
        pending = self._in_flight.get(key)
        if pending is not None:
            self.cache_hits += 1
            self._on_cache_hit()
            return await asyncio.shield(pending)
        future: asyncio.Future[JudgeReply] = self._loop.create_future()
        self._in_flight[key] = future
        try:
            try:
                reply = await self._with_retries(request)
            except Exception as exc:  # a bug here must cost this prompt, not the batch
                reply = JudgeReply(None, f"judge client error: {type(exc).__name__}: {exc}")
            if self._cache is not None and reply.error is None and reply.text and not reply.truncated:
                self._cache[key] = reply  # an empty or cut-off answer is worth asking again
            future.set_result(reply)
            return reply
        except BaseException as exc:  # cancelled: whoever waits on it learns too
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        finally:
            del self._in_flight[key]

    async def _with_retries(self, request: JudgeRequest) -> JudgeReply:
        """The prompt's attempts, each on the next replica. The budget starts with the first attempt
        (waiting for a free slot does not use it up); the first attempt gets the full timeout,
        retries share what is left of the budget, so once a prompt is being asked it is done within
        about `timeout_s + retry_budget_s`."""
        first = next(self._replicas)
        deadline: float | None = None
        attempt, timeout = 0, self.timeout_s
        while True:
            replica = (first + attempt) % len(self._clients)
            reply, retry_after, started = await self._attempt(request, replica, timeout)
            deadline = deadline if deadline is not None else started + self.retry_budget_s
            if reply.error is None or retry_after is None:
                return reply
            attempt += 1
            backoff = min(self.backoff_cap_s, self.backoff_base_s * 2**attempt)
            wait = retry_after or random.uniform(0, backoff)
            left = deadline - time.monotonic() - wait
            if attempt > self.max_retries or left <= 0:
                return JudgeReply(None, f"{reply.error} (after {attempt} attempts)", reply.model)
            await asyncio.sleep(wait)
            timeout = min(self.timeout_s, left)

    async def _attempt(
        self, request: JudgeRequest, replica: int, timeout: float
    ) -> tuple[JudgeReply, float | None, float]:
        """One HTTP request under the limit: (reply, None when the outcome is final else how long to
        wait before the retry (0: the backoff's choice), when it started)."""
        client, url, model = self._clients[replica], self.urls[replica], request.model or self.model
        async with self._limit:
            self.active += 1
            self.peak_active = max(self.peak_active, self.active)
            started = time.monotonic()
            try:
                response = await client.chat.completions.create(
                    model=model,
                    messages=request.messages,
                    max_tokens=request.max_tokens,
                    temperature=request.temperature,
                    timeout=timeout,
                )
            except openai.APITimeoutError:
                detail = f"{url} did not answer in {timeout:.3g} s"
                return (*self._failed("timeout", started, detail, model, 0), started)
            except openai.APIConnectionError as exc:
                return (
                    *self._failed("connection_error", started, f"cannot reach {url}: {exc}", model, 0),
                    started,
                )
            except openai.APIStatusError as exc:
                status = exc.status_code
                outcome = (
                    "rate_limited" if status == 429 else "server_error" if status >= 500 else "client_error"
                )
                detail = f"{url} answered HTTP {status}: {str(exc.message)[:200]}"
                retry = (
                    retry_after(exc.response.headers.get("retry-after"))
                    if status in RETRYABLE_STATUS
                    else None
                )
                return (*self._failed(outcome, started, detail, model, retry), started)
            except (openai.OpenAIError, ValueError, TypeError) as exc:
                detail = f"{url} sent a malformed response: {exc}"
                return (*self._failed("malformed", started, detail, model, 0), started)
            finally:
                self.active -= 1
        try:
            choice = response.choices[0]
            text, usage = choice.message.content, response.usage
        except (AttributeError, IndexError, TypeError):
            return (
                *self._failed("malformed", started, f"{url} sent a response without choices", model, 0),
                started,
            )
        self._on_request("ok", time.monotonic() - started)
        reply = JudgeReply(
            text if isinstance(text, str) else "",
            model=str(getattr(response, "model", None) or model),
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
            truncated=getattr(choice, "finish_reason", None) == "length",
        )
        return reply, None, started

    def _failed(
        self, outcome: str, started: float, detail: str, model: str, retry: float | None
    ) -> tuple[JudgeReply, float | None]:
        self._on_request(outcome, time.monotonic() - started)
        return JudgeReply(None, detail, model), retry

    async def _list_models(self) -> list[str]:
        try:
            page = await self._clients[0].models.list()
            return [model.id for model in page.data]
        except Exception:  # a judge that cannot list its models: the callers use the default
            return []

    async def _shut_down(self) -> None:
        current = asyncio.current_task()
        for task in asyncio.all_tasks(self._loop):
            if task is not current:
                task.cancel()
        for client in self._clients:
            await client.close()


def retry_after(header: str | None) -> float:
    """Seconds from a `Retry-After` header (delta-seconds; an HTTP date or junk: 0, the backoff's
    choice), capped so one header cannot park a prompt for long."""
    try:
        return min(max(float(header or 0), 0.0), 30.0)
    except ValueError:
        return 0.0
