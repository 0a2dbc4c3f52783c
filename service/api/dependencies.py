"""FastAPI dependencies: settings, shared resources, the scoring engine and the optional API key."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.api.schemas import ItemResult, RewardRequest, RewardResponse
from service.api.scoring import plan_request, score_request, stream_request
from service.rewards.base import Registry
from service.runtime.resources import Resources
from service.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="Needed when the server sets REFEREE_API_KEY.")


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_resources(request: Request) -> Resources:
    return request.app.state.resources


@dataclass(frozen=True)
class Scorer:
    """The scoring engine bound to this server's rewards, resources and limits: one dependency for
    every endpoint that scores or lists rewards."""

    registry: Registry
    resources: Resources
    settings: Settings

    async def score(self, request: RewardRequest) -> RewardResponse:
        return await score_request(
            request, self.registry, self.resources, self.settings.max_items, self.settings.only
        )

    def stream(self, request: RewardRequest) -> AsyncIterator[ItemResult | RewardResponse]:
        """Checks the request at once (a bad one raises its 4xx here), then scores as it is iterated."""
        plan = plan_request(
            request, self.registry, self.resources, self.settings.max_items, self.settings.only
        )
        return stream_request(plan, self.registry, self.resources, self.settings.stream_concurrency)


def get_scorer(request: Request) -> Scorer:
    state = request.app.state
    return Scorer(state.registry, state.resources, state.settings)


def key_matches(given: str, key: str) -> bool:
    """In constant time: how long a wrong key matched tells an attacker nothing."""
    return secrets.compare_digest(given.encode(), key.encode())


def require_api_key(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    settings: Settings = Depends(get_settings),
) -> None:
    if settings.api_key is None:
        return
    if credentials is None or not key_matches(credentials.credentials, settings.api_key):
        raise HTTPException(
            401,
            "missing or wrong API key: send `Authorization: Bearer <key>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
