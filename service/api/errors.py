"""Error responses. Every 4xx body has one shape: `{"detail": [{"loc": [...], "msg": ..., "type": ...}]}`,
the shape FastAPI uses for validation errors, so clients parse one format and always see the field."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("referee")


class APIError(Exception):
    """A client error with the location of the offending field."""

    def __init__(self, status_code: int, errors: list[dict], headers: dict[str, str] | None = None) -> None:
        super().__init__(errors[0]["msg"] if errors else "error")
        self.status_code = status_code
        self.errors = errors
        self.headers = headers or {}

    @classmethod
    def at(
        cls,
        status_code: int,
        loc: list[str | int],
        msg: str,
        type_: str,
        headers: dict[str, str] | None = None,
    ) -> APIError:
        return cls(status_code, [error_entry(loc, msg, type_)], headers)


def error_entry(loc: list[str | int], msg: str, type_: str) -> dict:
    return {"loc": list(loc), "msg": msg, "type": type_}


def check_count(count: int, limit: int, loc: list[str | int], noun: str) -> None:
    """413 when a request carries more than the server's per-request limit."""
    if count > limit:
        raise APIError.at(413, loc, f"{count} {noun} is more than the limit of {limit}", "too_many_items")


def check_backend(backend: str, known: tuple[str, ...] | list[str]) -> str:
    """422 naming `backend` when no sandbox backend has that name."""
    if backend not in known:
        raise APIError.at(
            422,
            ["body", "backend"],
            f"unknown backend {backend!r}; known backends: {', '.join(known)}",
            "unknown_backend",
        )
    return backend


def _json(status_code: int, errors: list[dict], headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"detail": errors}, status_code=status_code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> JSONResponse:
        response = _json(exc.status_code, exc.errors)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Drop `input`/`ctx`: echoing a 64 MiB body back helps nobody, and ctx may not be JSON.
        errors = [error_entry(e.get("loc", []), e.get("msg", ""), e.get("type", "")) for e in exc.errors()]
        return _json(422, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_ = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        errors = [error_entry([], str(exc.detail), type_.get(exc.status_code, "http_error"))]
        return _json(exc.status_code, errors, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _json(500, [error_entry([], f"internal error: {type(exc).__name__}", "internal_error")])
