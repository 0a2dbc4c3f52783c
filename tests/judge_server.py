"""An OpenAI-compatible chat-completions server the tests own: a judge Referee calls over the real
protocol (`/v1/chat/completions`, `/v1/models`), through the official `openai` client.

It answers as one of:
- `model`: a real (tiny, local) causal LM generating through transformers, as vLLM would serve it;
- `rules`: a deterministic judge that reads Referee's own prompts (a criterion `mentions X` holds
  when X is in the response; an answer is equivalent when the gold is in the response), so the tests
  know what every verdict must be;

and it misbehaves on demand (`faults`: HTTP errors, 429 with `Retry-After`, hangs, garbage bodies,
empty answers), with a fixed latency, while counting requests and the peak number in flight.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from tests.server_utils import serve_asgi

MODEL_NAME = "referee-test-judge"


@dataclass
class JudgeBehaviour:
    mode: str = "rules"
    latency_s: float = 0.0
    faults: deque[str] = field(default_factory=deque)
    """Consumed one per request: `500`, `503`, `429`, `429:2` (Retry-After 2), `400`, `hang`,
    `garbage`, `no_choices`, `empty`, `length` (cut off at max_tokens, ending on a verdict), `ok`."""
    always: str | None = None
    """A fault for every request (after `faults` run out)."""
    generator: Any = None
    requests: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    models_asked: list[str] = field(default_factory=list)
    chats: list[list[dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    closing: bool = False
    """Set when the server stops: hanging requests return, so shutdown does not wait for them."""


def rules_answer(messages: list[dict[str, str]]) -> str:
    """What a careful judge says about Referee's prompts, decided by rules the tests can predict."""
    text = messages[-1]["content"]
    response = section(text, "Response")
    if "## Criteria\n" in text:
        criteria = re.findall(r"^\d+\. (.*)$", section(text, "Criteria"), re.M)
        verdicts = ["YES" if criterion_holds(c, response) else "NO" for c in criteria]
        return "Checked each one.\n" + json.dumps({"verdicts": verdicts})
    if "## Criterion" in text:
        criterion = section(text, "Criterion", header_suffix=True)
        return f"Looking at the response.\nVERDICT: {'YES' if criterion_holds(criterion, response) else 'NO'}"
    if "## Gold answer" in text:
        gold = section(text, "Gold answer").strip()
        if not response.strip():
            return "There is no answer.\nVERDICT: C"
        return f"Comparing.\nVERDICT: {'A' if gold.lower() in response.lower() else 'B'}"
    if "Final Decision: Yes" in text:  # cot_rm's `yes-no` template
        reference = re.search(r"Reference answer: (.*)", text)
        said = re.search(r"Response: (.*)", text)
        same = bool(reference and said and reference.group(1).strip() in said.group(1))
        return f"Compared.\nFinal Decision: {'Yes' if same else 'No'}"
    if '"result"' in text:  # an OpenAI model grader: the score is 1 when the sample says "good"
        return json.dumps({"result": 1 if "good" in text.lower() else 0, "steps": []})
    return "I do not know this prompt."


def section(text: str, name: str, header_suffix: bool = False) -> str:
    """The body of a `## name` section of a prompt (up to the next `## ` header or the end)."""
    suffix = r"[^\n]*" if header_suffix else ""
    end = r"(?=\n## |\n\n(?:Think|Judge|Decide)|\Z)"
    match = re.search(rf"## {re.escape(name)}{suffix}\n(.*?){end}", text, re.S)
    body = match.group(1) if match else ""
    inside = re.fullmatch(
        r"<(data-\w+)>\n(.*)\n</\1>", body.strip("\n"), re.S
    )  # Referee fences what it quotes
    return inside.group(2) if inside else body


def criterion_holds(criterion: str, response: str) -> bool:
    match = re.search(r"mentions '([^']+)'", criterion)
    return bool(match) and match.group(1).lower() in response.lower()


def create_judge_app(behaviour: JudgeBehaviour) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": MODEL_NAME, "object": "model", "owned_by": "tests"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        with behaviour.lock:
            behaviour.requests += 1
            behaviour.in_flight += 1
            behaviour.peak_in_flight = max(behaviour.peak_in_flight, behaviour.in_flight)
            behaviour.models_asked.append(body.get("model"))
            behaviour.chats.append(body.get("messages"))
            fault = behaviour.faults.popleft() if behaviour.faults else behaviour.always
        try:
            if behaviour.latency_s:
                await asyncio.sleep(behaviour.latency_s)
            return await answer(body, fault)
        finally:
            with behaviour.lock:
                behaviour.in_flight -= 1

    async def answer(body: dict[str, Any], fault: str | None) -> Response:
        if body.get("model") not in (MODEL_NAME, None):
            return JSONResponse({"error": {"message": f"model {body.get('model')} does not exist"}}, 404)
        if fault == "hang":
            while not behaviour.closing:
                await asyncio.sleep(0.05)
            return JSONResponse({"error": {"message": "the test server is stopping"}}, 503)
        if fault is not None and fault.split(":")[0].isdigit():
            status, _, after = fault.partition(":")
            headers = {"retry-after": after} if after else {}
            return JSONResponse({"error": {"message": f"injected {status}"}}, int(status), headers=headers)
        if fault == "garbage":
            return PlainTextResponse("<html>502 Bad Gateway</html>", 200, media_type="application/json")
        if fault == "no_choices":
            return JSONResponse({"id": "x", "object": "chat.completion", "model": MODEL_NAME, "choices": []})
        messages = body["messages"]
        if fault == "empty":
            text = ""
        elif fault == "length":
            text = "The response says: VERDICT: YES"
        elif behaviour.mode == "model":
            completion = (await asyncio.to_thread(behaviour.generator.complete, [messages]))[0]
            text = completion.text
        else:
            text = rules_answer(messages)
        return JSONResponse(
            {
                "id": f"chatcmpl-{behaviour.requests}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": MODEL_NAME,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "length" if fault == "length" else "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": len(text.split()), "total_tokens": 10},
            }
        )

    return app


@contextmanager
def judge_server(behaviour: JudgeBehaviour | None = None) -> Iterator[tuple[str, JudgeBehaviour]]:
    """A running judge; yields its OpenAI base URL (`.../v1`) and the behaviour to steer it."""
    behaviour = behaviour or JudgeBehaviour()
    with serve_asgi(create_judge_app(behaviour)) as url:
        try:
            yield f"{url}/v1", behaviour
        finally:
            behaviour.closing = True
