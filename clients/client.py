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
import os
import random
import time
from collections.abc import Iterator, Mapping, Sequence
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


class ItemResult(BaseModel):
    id: str
    reward: float
    scores: dict[str, float | None]
    errors: dict[str, str] = Field(default_factory=dict)


class RewardResponse(BaseModel):
    results: list[ItemResult]
    elapsed_ms: float
    notes: list[str] = Field(default_factory=list)

    @property
    def rewards(self) -> list[float]:
        return [r.reward for r in self.results]

    def component(self, name: str) -> list[float | None]:
        return [r.scores.get(name) for r in self.results]


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
) -> dict[str, Any]:
    if (rewards is None) == (profile is None):
        raise ValueError("give exactly one of `rewards` or `profile`")
    body: dict[str, Any] = {"items": list(items), "params": dict(params or {})}
    body["rewards" if rewards is not None else "profile"] = dict(rewards) if rewards is not None else profile
    return body


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _merge(parts: list[dict[str, Any]]) -> RewardResponse:
    return RewardResponse(
        results=[result for part in parts for result in part["results"]],
        elapsed_ms=sum(part["elapsed_ms"] for part in parts),
        notes=list(dict.fromkeys(note for part in parts for note in part.get("notes", []))),
    )


class _Settings:
    """Shared configuration of both clients; arguments beat `REFEREE_URL` / `REFEREE_API_KEY`."""

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        timeout: float,
        max_retries: int,
        backoff_s: float,
        max_batch_items: int,
    ) -> None:
        self.base_url = (base_url or os.environ.get("REFEREE_URL") or DEFAULT_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("REFEREE_API_KEY")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_batch_items = max_batch_items

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def delay(self, attempt: int) -> float:
        return self.backoff_s * (2**attempt) * (0.5 + random.random())

    def outcome(
        self, attempt: int, response: httpx.Response | None = None, error: Exception | None = None
    ) -> Any:
        """The decoded answer, `RETRY`, or a raised `RefereeError`: one retry policy for both clients."""
        if error is not None:
            if attempt >= self.max_retries:
                raise RefereeError(f"cannot reach {self.base_url}: {error}") from error
            return RETRY
        assert response is not None
        if attempt < self.max_retries and (response.status_code in RETRY_STATUSES or _from_a_proxy(response)):
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


class RefereeClient(_Settings):
    """Synchronous client. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 300.0,
        max_retries: int = 4,
        backoff_s: float = 0.25,
        max_batch_items: int = 4096,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout, max_retries, backoff_s, max_batch_items)
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=self.headers,
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )

    def __enter__(self) -> RefereeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, json: Any = None) -> Any:
        attempt = 0
        while True:
            try:
                answer = self.outcome(attempt, response=self._http.request(method, path, json=json))
            except RETRY_ERRORS as exc:
                answer = self.outcome(attempt, error=exc)
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
    ) -> RewardResponse:
        """Score items (dicts with `completion`, `answer`, `prompt`, ...); large batches are split."""
        parts = [
            self.request("POST", "/v1/rewards", _body(chunk, rewards, profile, params))
            for chunk in _chunks(items, self.max_batch_items)
        ]
        return _merge(parts) if parts else RewardResponse(results=[], elapsed_ms=0.0)

    def rewards(self) -> dict[str, Any]:
        """The server's rewards, their options and profiles."""
        return self.request("GET", "/v1/rewards")

    def execute(
        self, runs: Sequence[Mapping[str, Any]], *, backend: str | None = None
    ) -> list[dict[str, Any]]:
        return self.request("POST", "/v1/execute", {"runs": list(runs), "backend": backend})["results"]

    def health(self) -> dict[str, Any]:
        return self.request("GET", "/healthz")


class AsyncRefereeClient(_Settings):
    """asyncio client with the same behaviour; split batches are sent concurrently."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 300.0,
        max_retries: int = 4,
        backoff_s: float = 0.25,
        max_batch_items: int = 4096,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout, max_retries, backoff_s, max_batch_items)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=self.headers,
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )

    async def __aenter__(self) -> AsyncRefereeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, json: Any = None) -> Any:
        attempt = 0
        while True:
            try:
                answer = self.outcome(attempt, response=await self._http.request(method, path, json=json))
            except RETRY_ERRORS as exc:
                answer = self.outcome(attempt, error=exc)
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
    ) -> RewardResponse:
        parts = await asyncio.gather(
            *(
                self.request("POST", "/v1/rewards", _body(chunk, rewards, profile, params))
                for chunk in _chunks(items, self.max_batch_items)
            )
        )
        return _merge(list(parts)) if parts else RewardResponse(results=[], elapsed_ms=0.0)

    async def rewards(self) -> dict[str, Any]:
        return await self.request("GET", "/v1/rewards")

    async def health(self) -> dict[str, Any]:
        return await self.request("GET", "/healthz")
