"""FastAPI dependencies: settings, shared resources and the optional API key."""

from __future__ import annotations

import secrets

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.rewards.base import Registry
from service.runtime.resources import Resources
from service.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="Needed when the server sets REFEREE_API_KEY.")


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_resources(request: Request) -> Resources:
    return request.app.state.resources


def get_registry(request: Request) -> Registry:
    return request.app.state.registry


def require_api_key(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    settings: Settings = Depends(get_settings),
) -> None:
    if settings.api_key is None:
        return
    if credentials is None or not secrets.compare_digest(
        credentials.credentials.encode(), settings.api_key.encode()
    ):
        raise HTTPException(
            401,
            "missing or wrong API key: send `Authorization: Bearer <key>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
