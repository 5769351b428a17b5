"""POST /v1/chat/completions as a small ASGI app, in front of Django (grokweb.asgi routes the path here).

Django's request handling costs this path about 2 ms before the view and 1 ms before the first
chunk: a request object, URL resolution, and the page middleware (sessions, CSRF, messages,
static files, two of them sync-only, so every request hops to a thread and back twice), none of
which a bearer-token API uses. Here the request is read straight off ASGI, the answer comes from
teamapi.completions (the same code the Django view calls), and the SSE events are sent the moment
they exist (those of one upstream read together: teamapi.relay.sse). What the middleware did that
matters here is kept: the Host header is checked against ALLOWED_HOSTS, the body is capped at
API_MAX_BODY_BYTES, errors are OpenAI's JSON (never a traceback), and a client that disconnects
stops its call (the upstream request is closed and what was used is billed), as Django's handler
does by cancelling the view.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from . import parsing
from .completions import Answer, complete, refusal
from .errors import ApiError, method_not_allowed, too_large

log = logging.getLogger(__name__)
PATHS = frozenset({"/v1/chat/completions", "/v1/chat/completions/"})
_COMMON = [(b"x-content-type-options", b"nosniff")]

Scope = dict[str, Any]


class _Gone(Exception):
    """The client disconnected while sending its request."""


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope.get("headers", ())}


def _bearer(headers: dict[bytes, bytes]) -> str:
    return parsing.bearer_token(headers.get(b"authorization", b"").decode("latin-1"))


def _host_allowed(headers: dict[bytes, bytes]) -> bool:
    """Django's own check (HttpRequest.get_host), which CommonMiddleware made on every request."""
    host = headers.get(b"host", b"").decode("latin-1")
    if settings.USE_X_FORWARDED_HOST and b"x-forwarded-host" in headers:
        host = headers[b"x-forwarded-host"].decode("latin-1").split(",")[-1].strip()
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _ = split_domain_port(host)
    return bool(domain) and validate_host(domain, allowed)


async def _body(receive: Any, limit: int) -> bytes:
    parts, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Gone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


async def _send(send: Any, answer: Answer) -> None:
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers.items()]
    stream = answer.stream
    try:
        await send({"type": "http.response.start", "status": answer.status, "headers": headers + _COMMON})
        if stream is None:
            await send({"type": "http.response.body", "body": answer.body})
            return
        async for event in stream:  # as the relay hands them over (a read's events together): no buffering here
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        if stream is not None:
            await stream.aclose()  # type: ignore[attr-defined]  # an async generator: ends the call if cut short
        if answer.relay is not None:  # a stream cut before its first event still ends its call (else a no-op)
            await answer.relay.end("cancelled")


async def _serve(scope: Scope, receive: Any, send: Any) -> None:
    headers = _headers(scope)
    if scope["method"] != "POST":
        answer = refusal(method_not_allowed("POST"))
        answer.headers["Allow"] = "POST"
        return await _send(send, answer)
    if not _host_allowed(headers):
        return await _send(send, refusal(ApiError(400, "Invalid Host header.", "bad_request")))
    try:
        body = await _body(receive, settings.GROKWEB["API_MAX_BODY_BYTES"])
    except ApiError as exc:
        return await _send(send, refusal(exc))
    client = scope.get("client")
    address = client[0] if client else None
    # The call is answered in this task (a task of its own cost its upstream request a turn of the event
    # loop); the watcher beside it cancels it when the client leaves: the call stops (completions and
    # relay end it and bill it).
    serving = asyncio.current_task()
    assert serving is not None
    left = answering = False

    def gone(watcher: asyncio.Future[None]) -> None:
        nonlocal left
        if answering and not watcher.cancelled() and watcher.exception() is None:
            left = True
            serving.cancel()

    watching = asyncio.ensure_future(_disconnect(receive))
    watching.add_done_callback(gone)
    answering = True
    try:
        await _answer(send, _bearer(headers), address, body)
    except asyncio.CancelledError:
        if not left:
            raise
        serving.uncancel()  # our own stop, not daphne's: the app ends normally
    finally:
        answering = False  # a disconnect seen from here on (its callback may already be queued) stops nothing
        watching.remove_done_callback(gone)
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching


async def _answer(send: Any, raw: str, address: str | None, body: bytes) -> None:
    a = await complete(raw, address, body)
    await _send(send, a)


async def _disconnect(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def app(scope: Scope, receive: Any, send: Any) -> None:
    """The ASGI app for PATHS (HTTP only)."""
    try:
        await _serve(scope, receive, send)
    except _Gone:
        return
    except Exception:  # never a traceback page; an answer already started just ends
        log.exception("Team API request failed")
        with contextlib.suppress(Exception):
            await _send(send, refusal(ApiError(500, "Something went wrong.", "internal")))
