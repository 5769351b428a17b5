"""A streamed response's body, read one socket read at a time, below h11 when it is chunked.

A gateway sends each SSE event, so each token, as its own HTTP chunk. Through httpx, h11
turns every chunk into an event that climbs httpcore's and httpx's async generators one at a
time: about 15 µs per token, the largest per-token cost of the relay. Here, once httpx has sent
the request and read the status line and headers (so TLS, proxies, the connection pool and
timeouts are still httpx's), a chunked body is read from the connection's network stream and
decoded by gateways.wire.chunked: one read, however many chunks it holds, is one `bytes`.

At the body's end the connection goes back to httpx's pool as if h11 had read it: h11 is
handed the end of a chunked body (`0\\r\\n\\r\\n`) after whatever it had buffered with the
headers, so it reaches its DONE state and httpcore keeps the connection. A body that ends any
other way (an error, a stop, bytes after the end) leaves h11 short of DONE, and closing the
response closes the connection, as with httpx alone.

Used only where it is sure to work: HTTP/1.1 through httpcore's connection (reached through
attributes of httpx 0.28 / httpcore 1.0, pinned), a `chunked` body without a content coding
(streams ask for `identity`), and nothing of the body buffered with the headers but whole
chunks. Anything else (a content-length body, gzip, another transport, a future httpx) is read
by httpx's own `aiter_bytes`, exactly as before: slower, never wrong.
"""
from __future__ import annotations

import logging
from typing import Any

import h11
import httpcore
import httpx

from .chunked import ChunkedDecoder, ChunkedError

log = logging.getLogger(__name__)
READ_BYTES = 64 * 1024
_END = b"0\r\n\r\n"


class Body:
    """`read()` the next decoded bytes (b"" at the body's end); `aclose()` when done with it."""

    drains = False  # whether one read takes everything the connection had received

    async def read(self) -> bytes:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


class HttpxBody(Body):
    """httpx's own reading (content codings, content-length, any transport)."""

    def __init__(self, response: httpx.Response) -> None:
        self._chunks = response.aiter_bytes()

    async def read(self) -> bytes:
        while True:
            try:
                chunk = await anext(self._chunks)
            except StopAsyncIteration:
                return b""
            if chunk:
                return chunk

    async def aclose(self) -> None:
        await self._chunks.aclose()  # type: ignore[attr-defined]  # an async generator


class ChunkedBody(Body):
    """A chunked body read from the connection's network stream (see the module's docstring)."""

    drains = True

    def __init__(self, network: Any, state: h11.Connection, decoder: ChunkedDecoder, first: bytes) -> None:
        self._network = network
        self._state = state
        self._decoder = decoder
        # What h11 read with the headers, already decoded (`open_body`); h11 keeps its copy and reads it at the end.
        self._first = first
        self._handed = False

    async def read(self) -> bytes:
        if self._first:
            first, self._first = self._first, b""
            return first
        decoder = self._decoder
        while not decoder.done:
            try:
                data = await self._network.read(READ_BYTES)
            except httpcore.ReadError as exc:
                raise httpx.ReadError(str(exc)) from None
            except httpcore.ReadTimeout as exc:
                raise httpx.ReadTimeout(str(exc)) from None
            if not data:
                raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
            try:
                payload = decoder.feed(data)
            except ChunkedError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from None
            if payload:
                return payload
        self._hand_back()
        return b""

    def _hand_back(self) -> None:
        """The body ended cleanly: let h11 read its end, so httpcore pools the connection on close."""
        if self._handed or self._decoder.extra:
            return  # bytes after the end: not a connection to reuse (closing the response closes it)
        self._handed = True
        state = self._state
        try:
            state.receive_data(_END)
            while True:
                event = state.next_event()
                if event is h11.NEED_DATA or event is h11.PAUSED or isinstance(event, h11.EndOfMessage):
                    return
        except h11.RemoteProtocolError:  # cannot happen for a body we decoded; the connection closes
            log.warning("h11 refused the end of a chunked body; the connection is closed", exc_info=True)


async def open_body(response: httpx.Response) -> Body:
    """The fastest correct reader for this response's body."""
    reachable = _http11_state(response)
    if reachable is not None and _plain_chunked(response.headers):
        network, state = reachable
        buffered, closed = state.trailing_data
        decoded = None if closed else _whole_chunks(buffered)
        if decoded is not None:
            return ChunkedBody(network, state, *decoded)
    return HttpxBody(response)


def _plain_chunked(headers: httpx.Headers) -> bool:
    coding = headers.get("content-encoding", "identity").strip().lower()
    return headers.get("transfer-encoding", "").strip().lower() == "chunked" and coding in ("", "identity")


def _whole_chunks(buffered: bytes) -> tuple[ChunkedDecoder, bytes] | None:
    """What h11 buffered with the headers, decoded, if it ends between chunks (so `0\\r\\n\\r\\n` ends it):
    the decoder to go on with and the payload so far; None otherwise."""
    decoder = ChunkedDecoder()
    try:
        first = decoder.feed(buffered)
    except ChunkedError:
        return None
    return (decoder, first) if decoder.at_boundary else None


def _http11_state(response: httpx.Response) -> tuple[Any, h11.Connection] | None:
    """The network stream and h11 state of the HTTP/1.1 connection that carries `response`, if reachable.

    httpx 0.28 / httpcore 1.0: Response.stream (BoundAsyncStream) -> AsyncResponseStream ->
    PoolByteStream -> HTTP11ConnectionByteStream -> AsyncHTTP11Connection. Anything unexpected: None.
    """
    network = response.extensions.get("network_stream")
    if network is None or response.http_version != "HTTP/1.1":
        return None
    stream: Any = response.stream
    for attribute in ("_stream", "_httpcore_stream", "_stream", "_connection"):
        stream = getattr(stream, attribute, None)
        if stream is None:
            return None
    state = getattr(stream, "_h11_state", None)
    if not isinstance(state, h11.Connection) or getattr(stream, "_network_stream", None) is not network:
        return None
    if state.their_state is not h11.SEND_BODY or state.our_state is not h11.DONE:
        return None
    return network, state
