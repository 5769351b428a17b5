"""A request's head and body in one socket write, below httpx (httpcore's HTTP/1.1 connection).

httpcore writes a request in pieces: the head (request line and headers) through h11, then each
chunk of the body, then the body's end, each its own `write` on the connection's network
stream. Over anyio every write is followed by a turn of the event loop (its checkpoint), and
the gateway wakes once for the head and once more for the body: for a chat request (a few KiB of
JSON, one chunk) the body left a loop turn after the head, and the gateway read it with a second
wake-up before it could start. That was on the path of every reply's first token.

`install()` has httpcore's HTTP/1.1 connection keep the head until the body's first chunk exists and
write them together (a body of one chunk, as every request we send, is then one write). The bytes
are exactly what h11 makes of the same events, in the same order; only how they are handed to the
socket changes. Everything else stays httpcore's and httpx's: the pool and keep-alive, TLS,
proxies (the proxied connections are the same class), timeouts (the write's own), and the
handling of a write error (the response is still read). A request whose body never yields a
chunk still sends its head (with the body's end). Process-wide, like grokweb.serving's patches to
Twisted; an httpcore without the methods this replaces is left alone (the pin is httpcore 1.0).
"""
from __future__ import annotations

import logging
from typing import Any

import h11
import httpcore
from httpcore._async.http11 import AsyncHTTP11Connection
from httpcore._exceptions import map_exceptions

log = logging.getLogger(__name__)
_installed = False


async def _send_request_headers(self: Any, request: httpcore.Request) -> None:
    """h11's bytes for the head, kept until the body's first chunk (`_send_request_body`)."""
    with map_exceptions({h11.LocalProtocolError: httpcore.LocalProtocolError}):
        event = h11.Request(method=request.method, target=request.url.target, headers=request.headers)
    self._grokweb_head = self._h11_state.send(event) or b""


async def _send_request_body(self: Any, request: httpcore.Request) -> None:
    """The kept head with the first chunk in one write, then any further chunks and the body's end."""
    timeout = request.extensions.get("timeout", {}).get("write", None)
    head, self._grokweb_head = getattr(self, "_grokweb_head", b""), b""
    stream = request.stream
    assert hasattr(stream, "__aiter__")
    try:
        async for chunk in stream:
            data = self._h11_state.send(h11.Data(data=chunk)) or b""
            if head:
                data, head = head + data, b""
            if data:
                await self._network_stream.write(data, timeout=timeout)
        end = head + (self._h11_state.send(h11.EndOfMessage()) or b"")
        if end:
            await self._network_stream.write(end, timeout=timeout)
    finally:
        self._grokweb_head = b""


def install() -> bool:
    """Have httpcore's HTTP/1.1 connections write a request's head with its body. Idempotent; whether it applies."""
    global _installed
    if _installed:
        return True
    needed = ("_send_request_headers", "_send_request_body", "_send_event")
    if not all(hasattr(AsyncHTTP11Connection, name) for name in needed):
        log.warning("httpcore %s: requests are written in pieces, as httpcore does", httpcore.__version__)
        return False
    AsyncHTTP11Connection._send_request_headers = _send_request_headers  # type: ignore[method-assign]
    AsyncHTTP11Connection._send_request_body = _send_request_body  # type: ignore[method-assign]
    _installed = True
    return True
