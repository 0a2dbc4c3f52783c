"""HTTP clients for Referee: `RefereeClient` (sync) and `AsyncRefereeClient` (asyncio), on httpx.

Both pool connections, time out, retry with exponential backoff on connection errors, on
502/503/504 and on a 500 that is not Referee's own JSON error (a proxy's: Ray Serve answers a bare
500 when the replica serving a request dies; scoring is idempotent, so a retry is safe). Never on
4xx: a bad request stays bad. They split large batches into several requests
(results come back in item order), send the API key, and raise `RefereeError` carrying the
server's JSON error.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import httpx
from pydantic import BaseModel, Field

DEFAULT_URL = "http://127.0.0.1:8000"
RETRY_STATUSES = {502, 503, 504}
RETRY = object()
RETRY_ERRORS = (
    httpx.ConnectError,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


class TurnBreakdown(BaseModel):
    """Per-turn credit of a trajectory (see the server's schema): turn rewards sum to the reward."""

    message_index: list[int]
    scores: dict[str, list[float | None]]
    rewards: list[float]
    returns: list[float]
    anchors: list[str]


class ItemResult(BaseModel):
    id: str
    reward: float
    scores: dict[str, float | None]
    errors: dict[str, str] = Field(default_factory=dict)
    turns: TurnBreakdown | None = None


class RewardResponse(BaseModel):
    results: list[ItemResult]
    elapsed_ms: float
    notes: list[str] = Field(default_factory=list)
    null_counts: dict[str, int] = Field(default_factory=dict)

    @property
    def rewards(self) -> list[float]:
        return [r.reward for r in self.results]

    def component(self, name: str) -> list[float | None]:
        return [r.scores.get(name) for r in self.results]


_SHARED: dict[tuple[Any, ...], RefereeClient] = {}
_SHARED_LOCK = threading.Lock()


class StreamSummary(BaseModel):
    items: int
    elapsed_ms: float
    notes: list[str] = Field(default_factory=list)
    null_counts: dict[str, int] = Field(default_factory=dict)


def stream_line(line: str) -> ItemResult | StreamSummary | None:
    """One NDJSON line of `/v1/rewards/stream`."""
    if not line.strip():
        return None
    data = json.loads(line)
    return (
        StreamSummary.model_validate(data["summary"])
        if "summary" in data
        else ItemResult.model_validate(data)
    )


class ResultStream:
    """`with client.score_stream(...) as stream: for result in stream: ...`; `stream.summary` once
    it is read. Streams are not retried: a result already handed out cannot be taken back."""

    def __init__(self, http: httpx.Client, body: dict[str, Any]) -> None:
        self._request = http.stream("POST", "/v1/rewards/stream", json=body)
        self.summary: StreamSummary | None = None

    def __enter__(self) -> ResultStream:
        self._response = self._request.__enter__()
        if self._response.status_code >= 400:
            self._response.read()
            error = RefereeError.from_response(self._response)
            self._request.__exit__(None, None, None)
            raise error
        return self

    def __exit__(self, *exc: Any) -> None:
        self._request.__exit__(*exc)

    def __iter__(self) -> Iterator[ItemResult]:
        for line in self._response.iter_lines():
            parsed = stream_line(line)
            if isinstance(parsed, StreamSummary):
                self.summary = parsed
            elif parsed is not None:
                yield parsed


class AsyncResultStream:
    """`async with client.score_stream(...) as stream: async for result in stream: ...`."""

    def __init__(self, http: httpx.AsyncClient, body: dict[str, Any]) -> None:
        self._request = http.stream("POST", "/v1/rewards/stream", json=body)
        self.summary: StreamSummary | None = None

    async def __aenter__(self) -> AsyncResultStream:
        self._response = await self._request.__aenter__()
        if self._response.status_code >= 400:
            await self._response.aread()
            error = RefereeError.from_response(self._response)
            await self._request.__aexit__(None, None, None)
            raise error
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._request.__aexit__(*exc)

    async def __aiter__(self) -> AsyncIterator[ItemResult]:
        async for line in self._response.aiter_lines():
            parsed = stream_line(line)
            if isinstance(parsed, StreamSummary):
                self.summary = parsed
            elif parsed is not None:
                yield parsed


def shared_key() -> tuple[int, str | None, str | None]:
    """This process and the server the environment points at."""
    return os.getpid(), os.environ.get("REFEREE_URL"), os.environ.get("REFEREE_API_KEY")


def shared_client() -> RefereeClient:
    """One client per process and configured server, for adapters a trainer calls as plain functions.
    It lives in this importable module, not in an adapter file a trainer loads by path, so pickling an
    adapter function (verl's `remote` manager ships it to Ray workers) never pickles a live client;
    keyed by pid, a forked worker opens its own connections."""
    key = shared_key()
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = RefereeClient()
        return _SHARED[key]


class RefereeError(Exception):
    """The server answered with an error (or could not be reached after all retries)."""

    def __init__(self, message: str, status_code: int | None = None, detail: Any = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail

    @classmethod
    def from_response(cls, response: httpx.Response) -> RefereeError:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text[:2000]
        if isinstance(detail, list) and detail and isinstance(detail[0], dict):
            where = ".".join(str(part) for part in detail[0].get("loc", []))
            message = f"{response.status_code}: {detail[0].get('msg')}" + (f" (at {where})" if where else "")
        else:
            message = f"{response.status_code}: {detail}"
        return cls(message, response.status_code, detail)


def _body(
    items: Sequence[Mapping[str, Any]],
    rewards: Mapping[str, float] | None,
    profile: str | None,
    params: Mapping[str, Any] | None,
    turns: Mapping[str, Any] | None = None,
    step: int | None = None,
    run: str | None = None,
) -> dict[str, Any]:
    if (rewards is None) == (profile is None):
        raise ValueError("give exactly one of `rewards` or `profile`")
    body: dict[str, Any] = {"items": list(items), "params": dict(params or {})}
    body["rewards" if rewards is not None else "profile"] = dict(rewards) if rewards is not None else profile
    if turns is not None:
        body["turns"] = dict(turns)
    if step is not None:
        body["step"] = step
    if run is not None:
        body["run"] = run
    return body


def _tool_body(
    tool_calls: Sequence[Mapping[str, Any]] | None,
    message: Mapping[str, Any] | None,
    limits: Mapping[str, Any],
) -> dict[str, Any]:
    if (tool_calls is None) == (message is None):
        raise ValueError("give exactly one of `tool_calls` or `message`")
    body: dict[str, Any] = (
        {"tool_calls": list(tool_calls)} if tool_calls is not None else {"message": dict(message or {})}
    )
    return {**body, **limits}


def parse_weights(spec: str) -> dict[str, float]:
    """`math=1,format=0.1` (or `math:1`) -> {"math": 1.0, "format": 0.1}; a bare name weighs 1."""
    weights = {}
    for part in spec.split(","):
        name, _, weight = part.replace(":", "=").partition("=")
        if not name.strip():
            continue
        try:
            weights[name.strip()] = float(weight) if weight.strip() else 1.0
        except ValueError:
            raise ValueError(f"bad weight in {spec!r}: write rewards as `math=1,format=0.1`") from None
    return weights


def selection_from_env() -> dict[str, Any]:
    """`REFEREE_REWARDS` (`math=1,format=0.1`) if set, else `REFEREE_PROFILE` (default `r1-math`)."""
    spec = os.environ.get("REFEREE_REWARDS")
    if spec:
        return {"rewards": parse_weights(spec)}
    return {"profile": os.environ.get("REFEREE_PROFILE", "r1-math")}


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _merge(parts: list[dict[str, Any]]) -> RewardResponse:
    return RewardResponse(
        results=[result for part in parts for result in part["results"]],
        elapsed_ms=sum(part["elapsed_ms"] for part in parts),
        notes=list(dict.fromkeys(note for part in parts for note in part.get("notes", []))),
        null_counts=dict(sum((Counter(part.get("null_counts", {})) for part in parts), Counter())),
    )


DEFAULT_MAX_RETRIES = 12
DEFAULT_RETRY_BUDGET_S = 60.0
MAX_BACKOFF_S = 4.0


def _env_number(name: str, default: float) -> float:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {value!r}") from None


class _ClientBase:
    """What both clients share: configuration (arguments beat `REFEREE_*` environment variables), the
    retry policy and batching. Retries stop after `max_retries` attempts or `retry_budget_s` seconds,
    whichever comes first; the defaults ride out a restart of the service (a few seconds)."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 300.0,
        max_retries: int | None = None,
        retry_budget_s: float | None = None,
        backoff_s: float = 0.25,
        max_batch_items: int = 4096,
        transport: Any = None,
        run: str | None = None,
    ) -> None:
        self.base_url = (base_url or os.environ.get("REFEREE_URL") or DEFAULT_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("REFEREE_API_KEY")
        self.run = run if run is not None else os.environ.get("REFEREE_RUN")
        self.timeout = timeout
        self.max_retries = (
            max_retries
            if max_retries is not None
            else int(_env_number("REFEREE_MAX_RETRIES", DEFAULT_MAX_RETRIES))
        )
        self.retry_budget_s = (
            retry_budget_s
            if retry_budget_s is not None
            else _env_number("REFEREE_RETRY_BUDGET_S", DEFAULT_RETRY_BUDGET_S)
        )
        self.backoff_s = backoff_s
        self.max_batch_items = max_batch_items
        self._http = self._open(
            base_url=self.base_url,
            headers=self.headers,
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )

    def _open(self, **options: Any) -> Any:
        raise NotImplementedError

    @property
    def headers(self) -> dict[str, str]:
        """The API key, and the run name the reward inspector files this client's batches under."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        if self.run:
            headers["X-Referee-Run"] = self.run
        return headers

    def delay(self, attempt: int) -> float:
        return min(MAX_BACKOFF_S, self.backoff_s * (2**attempt)) * (0.5 + random.random())

    def outcome(
        self,
        attempt: int,
        started: float,
        response: httpx.Response | None = None,
        error: Exception | None = None,
    ) -> Any:
        """The decoded answer, `RETRY`, or a raised `RefereeError`: one retry policy for both clients."""
        retry_left = attempt < self.max_retries and time.monotonic() - started < self.retry_budget_s
        if error is not None:
            if not retry_left:
                raise RefereeError(
                    f"cannot reach {self.base_url} after {attempt + 1} attempts in "
                    f"{time.monotonic() - started:.1f} s: {error}"
                ) from error
            return RETRY
        assert response is not None
        if retry_left and (response.status_code in RETRY_STATUSES or _from_a_proxy(response)):
            return RETRY
        if response.is_error:
            raise RefereeError.from_response(response)
        return response.json()


def _from_a_proxy(response: httpx.Response) -> bool:
    """A 500 without Referee's `{"detail": ...}` JSON body was not written by Referee."""
    if response.status_code != 500:
        return False
    try:
        return "detail" not in response.json()
    except ValueError:
        return True


class RefereeClient(_ClientBase):
    """Synchronous client. Use as a context manager, or call `close()`."""

    _http: httpx.Client

    def _open(self, **options: Any) -> httpx.Client:
        return httpx.Client(**options)

    def __enter__(self) -> RefereeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, json: Any = None) -> Any:
        attempt, started = 0, time.monotonic()
        while True:
            try:
                answer = self.outcome(attempt, started, response=self._http.request(method, path, json=json))
            except RETRY_ERRORS as exc:
                answer = self.outcome(attempt, started, error=exc)
            if answer is not RETRY:
                return answer
            time.sleep(self.delay(attempt))
            attempt += 1

    def score(
        self,
        items: Sequence[Mapping[str, Any]],
        *,
        rewards: Mapping[str, float] | None = None,
        profile: str | None = None,
        params: Mapping[str, Any] | None = None,
        turns: Mapping[str, Any] | None = None,
        step: int | None = None,
        run: str | None = None,
    ) -> RewardResponse:
        """Score items (dicts with `completion`, `answer`, `prompt`, ...); large batches are split.
        `turns={"gamma": 1.0}` asks for per-turn credit of trajectories; `step` (and `run`, else the
        client's) file the batch in the reward inspector."""
        parts = [
            self.request("POST", "/v1/rewards", _body(chunk, rewards, profile, params, turns, step, run))
            for chunk in _chunks(items, self.max_batch_items)
        ]
        return _merge(parts) if parts else RewardResponse(results=[], elapsed_ms=0.0)

    def score_stream(
        self,
        items: Sequence[Mapping[str, Any]],
        *,
        rewards: Mapping[str, float] | None = None,
        profile: str | None = None,
        params: Mapping[str, Any] | None = None,
        turns: Mapping[str, Any] | None = None,
        step: int | None = None,
        run: str | None = None,
    ) -> ResultStream:
        """Each item's result as soon as the server has it (any order; match them by `id`), as a
        context manager to iterate; `.summary` after the last one. One request: not split, not retried."""
        return ResultStream(self._http, _body(items, rewards, profile, params, turns, step, run))

    def submit_job(
        self,
        items: Sequence[Mapping[str, Any]],
        *,
        rewards: Mapping[str, float] | None = None,
        profile: str | None = None,
        params: Mapping[str, Any] | None = None,
        priority: int = 0,
        run: str | None = None,
    ) -> str:
        """Score in the background; returns the job id at once (`job()` polls, `cancel_job()` stops)."""
        body = {**_body(items, rewards, profile, params, run=run or self.run), "priority": priority}
        return str(self.request("POST", "/v1/rewards/jobs", body)["job_id"])

    def job(self, job_id: str, since: int = 0) -> dict[str, Any]:
        """`status` (queued, running, done, cancelled), `scored`, and the `results` from the `since`-th."""
        return self.request("GET", f"/v1/rewards/jobs/{job_id}?since={since}")

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        return self.request("DELETE", f"/v1/rewards/jobs/{job_id}")

    def rewards(self) -> dict[str, Any]:
        """The server's rewards, their options and profiles."""
        return self.request("GET", "/v1/rewards")

    def execute(
        self, runs: Sequence[Mapping[str, Any]], *, backend: str | None = None
    ) -> list[dict[str, Any]]:
        return self.request("POST", "/v1/execute", {"runs": list(runs), "backend": backend})["results"]

    def call_tools(
        self,
        tool_calls: Sequence[Mapping[str, Any]] | None = None,
        *,
        message: Mapping[str, Any] | None = None,
        **limits: Any,
    ) -> list[dict[str, Any]]:
        """Run an assistant turn's tool calls (`python`, `calculator`): the `tool` messages to append."""
        return self.request("POST", "/v1/tools/call", _tool_body(tool_calls, message, limits))["messages"]

    def tools(self) -> list[dict[str, Any]]:
        """The tools the server runs, as OpenAI function definitions (for prompts and items)."""
        return self.request("GET", "/v1/tools")

    def health(self) -> dict[str, Any]:
        return self.request("GET", "/healthz")


class AsyncRefereeClient(_ClientBase):
    """asyncio client with the same behaviour; split batches are sent concurrently."""

    _http: httpx.AsyncClient

    def _open(self, **options: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(**options)

    async def __aenter__(self) -> AsyncRefereeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, json: Any = None) -> Any:
        attempt, started = 0, time.monotonic()
        while True:
            try:
                response = await self._http.request(method, path, json=json)
                answer = self.outcome(attempt, started, response=response)
            except RETRY_ERRORS as exc:
                answer = self.outcome(attempt, started, error=exc)
            if answer is not RETRY:
                return answer
            await asyncio.sleep(self.delay(attempt))
            attempt += 1

    async def score(
        self,
        items: Sequence[Mapping[str, Any]],
        *,
        rewards: Mapping[str, float] | None = None,
        profile: str | None = None,
        params: Mapping[str, Any] | None = None,
        turns: Mapping[str, Any] | None = None,
        step: int | None = None,
        run: str | None = None,
    ) -> RewardResponse:
        parts = await asyncio.gather(
            *(
                self.request("POST", "/v1/rewards", _body(chunk, rewards, profile, params, turns, step, run))
                for chunk in _chunks(items, self.max_batch_items)
            )
        )
        return _merge(list(parts)) if parts else RewardResponse(results=[], elapsed_ms=0.0)

    def score_stream(
        self,
        items: Sequence[Mapping[str, Any]],
        *,
        rewards: Mapping[str, float] | None = None,
        profile: str | None = None,
        params: Mapping[str, Any] | None = None,
        turns: Mapping[str, Any] | None = None,
        step: int | None = None,
        run: str | None = None,
    ) -> AsyncResultStream:
        """The async twin of `RefereeClient.score_stream`: `async with`, then `async for`."""
        return AsyncResultStream(self._http, _body(items, rewards, profile, params, turns, step, run))

    async def submit_job(
        self,
        items: Sequence[Mapping[str, Any]],
        *,
        rewards: Mapping[str, float] | None = None,
        profile: str | None = None,
        params: Mapping[str, Any] | None = None,
        priority: int = 0,
        run: str | None = None,
    ) -> str:
        body = {**_body(items, rewards, profile, params, run=run or self.run), "priority": priority}
        return str((await self.request("POST", "/v1/rewards/jobs", body))["job_id"])

    async def job(self, job_id: str, since: int = 0) -> dict[str, Any]:
        return await self.request("GET", f"/v1/rewards/jobs/{job_id}?since={since}")

    async def cancel_job(self, job_id: str) -> dict[str, Any]:
        return await self.request("DELETE", f"/v1/rewards/jobs/{job_id}")

    async def rewards(self) -> dict[str, Any]:
        return await self.request("GET", "/v1/rewards")

    async def call_tools(
        self,
        tool_calls: Sequence[Mapping[str, Any]] | None = None,
        *,
        message: Mapping[str, Any] | None = None,
        **limits: Any,
    ) -> list[dict[str, Any]]:
        response = await self.request("POST", "/v1/tools/call", _tool_body(tool_calls, message, limits))
        return response["messages"]

    async def tools(self) -> list[dict[str, Any]]:
        return await self.request("GET", "/v1/tools")

    async def health(self) -> dict[str, Any]:
        return await self.request("GET", "/healthz")
