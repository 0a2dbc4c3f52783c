"""`/ui`: the reward inspector, a page over what `--record` stored (or `referee inspect` loaded).

The page is static (`service/inspector/static`) and asks these JSON endpoints for data. With
`REFEREE_API_KEY` set, the data needs the key: as a bearer token, or as the cookie the page's login
sets (HttpOnly, SameSite=Strict: scripts cannot read it and other sites cannot send it).
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path as FilePath
from typing import Any

from fastapi import APIRouter, Cookie, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import FileResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from service.api.dependencies import get_settings, key_matches
from service.inspector.store import ItemFilter, Store
from service.settings import Settings

STATIC = FilePath(__file__).resolve().parents[2] / "inspector" / "static"
COOKIE = "referee_ui"
router = APIRouter(tags=["inspector"], include_in_schema=False)
_bearer = HTTPBearer(auto_error=False)


def session_token(api_key: str) -> str:
    """What the cookie holds: derived from the key, so the key itself is never stored in the browser."""
    return hmac.new(api_key.encode(), b"referee-inspector", hashlib.sha256).hexdigest()


def require_ui_key(
    settings: Settings = Depends(get_settings),
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    cookie: str | None = Cookie(None, alias=COOKIE),
) -> None:
    key = settings.api_key
    if key is None:
        return
    if credentials is not None and key_matches(credentials.credentials, key):
        return
    if cookie is not None and key_matches(cookie, session_token(key)):
        return
    raise HTTPException(401, "the inspector needs the API key: log in on /ui")


def get_store(request: Request) -> Store:
    store = getattr(request.app.state, "inspector_store", None)
    if store is None:
        raise HTTPException(404, "nothing is recorded: start the server with `referee serve --record`")
    return store


@router.get("/ui")
def page() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers=SECURITY_HEADERS)


@router.get("/ui/static/{name:path}")
def static(name: str) -> FileResponse:
    path = (STATIC / name).resolve()
    if STATIC not in path.parents or not path.is_file():
        raise HTTPException(404, "no such file")
    return FileResponse(path, headers=SECURITY_HEADERS)


SECURITY_HEADERS = {
    # Only our own scripts and styles run, whatever a completion contains.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
}


class Login(BaseModel):
    key: str


@router.post("/ui/api/login")
def login(
    body: Login, request: Request, response: Response, settings: Settings = Depends(get_settings)
) -> dict[str, bool]:
    if settings.api_key is not None and not key_matches(body.key, settings.api_key):
        raise HTTPException(401, "wrong key")
    if settings.api_key is not None:
        response.set_cookie(
            COOKIE,
            session_token(settings.api_key),
            httponly=True,
            samesite="strict",
            path="/ui",
            secure=request.url.scheme == "https",
        )
    return {"ok": True}


data = APIRouter(prefix="/ui/api", dependencies=[Depends(require_ui_key)])


@data.get("/session")
def session(request: Request) -> dict[str, Any]:
    store = getattr(request.app.state, "inspector_store", None)
    return {"ok": True, "recording": store is not None}


@data.get("/runs")
def runs(store: Store = Depends(get_store)) -> list[dict[str, Any]]:
    return store.runs()


# The run is a query parameter everywhere: run names may hold `/`, `%`, `..`.


@data.get("/series")
def series(run: str, store: Store = Depends(get_store)) -> dict[str, Any]:
    return {
        **store.series(run),
        "components_names": store.components(run),
        "error_kinds": store.error_kinds(run),
    }


@data.get("/values")
def values(run: str, name: str = "reward", store: Store = Depends(get_store)) -> list[float]:
    return store.values(run, name)


@data.get("/disagreements")
def disagreements(run: str, high: str, low: str, store: Store = Depends(get_store)) -> list[dict[str, Any]]:
    return store.disagreements(run, high, low)


@data.get("/short")
def short(run: str, store: Store = Depends(get_store)) -> list[dict[str, Any]]:
    return store.short_and_rewarded(run)


@data.get("/fallback")
def fallback(run: str, component: str = "math", store: Store = Depends(get_store)) -> list[dict[str, Any]]:
    return store.fallback_answers(run, component)


@data.get("/items")
def items(
    run: str | None = None,
    component: str | None = None,
    min: float | None = None,  # noqa: A002 (query parameter names)
    max: float | None = None,  # noqa: A002
    error: str | None = None,
    group: str | None = None,
    q: str | None = None,
    sort: str = "-reward",
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
    store: Store = Depends(get_store),
) -> dict[str, Any]:
    where = ItemFilter(
        run=run,
        component=component,
        score_min=min,
        score_max=max,
        error_kind=error,
        group=group,
        text=q,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return store.items(where)


ItemPk = Path(ge=1, le=2**62)


def found(value: dict[str, Any] | None) -> dict[str, Any]:
    if value is None:
        raise HTTPException(404, "no such item")
    return value


@data.get("/items/{pk}")
def item(pk: int = ItemPk, store: Store = Depends(get_store)) -> dict[str, Any]:
    return found(store.item(pk))


@data.get("/items/{pk}/group")
def group(pk: int = ItemPk, store: Store = Depends(get_store)) -> dict[str, Any]:
    return found(store.group(pk))


router.include_router(data)
