"""`referee inspect FILE.scored.jsonl`: the inspector's page over a scored file, without a server run.

The results (and, when given, the items they score, line by line) go into a throw-away SQLite store
as one request of one run; the app serves only `/ui`."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.middleware.trustedhost import TrustedHostMiddleware

from service.api.routers import inspector
from service.inspector.recorder import scored_item
from service.inspector.store import ScoredItem, ScoredRequest, Store, sqlite_url
from service.items import Item
from service.settings import Settings

TEXT_CHARS = 200_000


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open() as lines:
        return [json.loads(line) for line in lines if line.strip()]


def scored_request(
    results: list[dict[str, Any]], items: list[dict[str, Any]] | None, run: str
) -> ScoredRequest:
    if items is not None and len(items) != len(results):
        raise ValueError(f"{len(results)} results but {len(items)} items: not the file that was scored")
    records = []
    for index, result in enumerate(results):
        fields = (
            str(result.get("id", index)),
            float(result.get("reward", 0.0)),
            dict(result.get("scores", {})),
            dict(result.get("errors", {})),
        )
        if items is not None:
            records.append(scored_item(Item.model_validate(items[index]), *fields, TEXT_CHARS))
        else:  # results only: scores without texts
            records.append(
                ScoredItem(fields[0], None, "", "", False, None, fields[1], 0, fields[2], fields[3])
            )
    return ScoredRequest(time.time(), run, None, {}, {}, None, 0.0, records)


def inspector_app(scored: Path, items: Path | None, run: str) -> FastAPI:
    folder = Path(tempfile.mkdtemp(prefix="referee-inspect-"))
    store = Store(sqlite_url(folder / "inspect.sqlite"))
    store.migrate()
    store.write([scored_request(read_jsonl(scored), read_jsonl(items) if items else None, run)])
    app = FastAPI(title="Referee inspector")
    # No key here: only this machine may ask (a DNS-rebound page's requests carry another Host).
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost", "[::1]", "testserver"])
    app.state.settings = Settings(api_key=None)
    app.state.inspector_store = store
    app.include_router(inspector.router)
    return app
