"""The app uvicorn serves: ``GET /healthz`` and the ``/ws`` socket (see README.md).

``CHAT_TOKEN`` is read when the module is imported: the harness sets it, through
``command_env``, before uvicorn imports the app. ``/healthz`` answers 503 until the lifespan's
startup has run, so ready means the app's own start-up is done, not only that the port is open.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

TOKEN = os.environ.get("CHAT_TOKEN", "")
POLICY_VIOLATION = 1008


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    if not TOKEN:
        raise RuntimeError("CHAT_TOKEN is not set: the service accepts nobody without it")
    app.state.started = True
    print("asgi-chat: started", flush=True)
    yield
    print("asgi-chat: shut down", flush=True)


async def healthz(request: Request) -> PlainTextResponse:
    if not getattr(request.app.state, "started", False):
        return PlainTextResponse("starting", status_code=503)
    return PlainTextResponse("ok")


def authorised(websocket: WebSocket) -> bool:
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), TOKEN.encode())


def answer(message: Any) -> dict[str, Any]:
    """The reply to one client message: ``echo`` and ``shout`` repeat its text."""
    if not isinstance(message, dict) or not isinstance(message.get("text"), str):
        return {"event": "error", "reason": 'expected {"op": ..., "text": "..."}'}
    op, text = message.get("op"), message["text"]
    if op == "echo":
        return {"event": "echo", "text": text}
    if op == "shout":
        return {"event": "echo", "text": text.upper()}
    return {"event": "error", "reason": f"unknown op {op!r}: use echo or shout"}


async def chat(websocket: WebSocket) -> None:
    if not authorised(websocket):
        # Before accept: the upgrade is refused with HTTP 403.
        await websocket.close(code=POLICY_VIOLATION)
        return
    await websocket.accept()
    try:
        while True:
            try:
                message = await websocket.receive_json()
            except ValueError:
                await websocket.send_json({"event": "error", "reason": "not JSON"})
                continue
            await websocket.send_json(answer(message))
    except WebSocketDisconnect:
        return


app = Starlette(
    routes=[Route("/healthz", healthz), WebSocketRoute("/ws", chat)],
    lifespan=lifespan,
)
