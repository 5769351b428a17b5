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

A read that follows a pause (the relay waits one frame interval between reads, so the next
tokens gather in the socket) first takes what the socket already holds without the event loop
(`Ready`): anyio would resume the transport (an `epoll_ctl`), wait a loop iteration for the
selector to report what is there, then pause it again (another `epoll_ctl`), under httpcore's
timeout and exception wrappers; that was most of a read's cost at a gateway's pace. Over TLS the
same is done below anyio's TLS stream: bytes from the socket go into its SSL object's incoming
buffer, exactly as anyio would put them there. Whenever the socket holds nothing, or anything is
unusual (the transport reading, closing or at its end, anyio's own buffer not empty, a TLS
error, a future anyio), the read goes through httpcore as before.
"""
from __future__ import annotations

import asyncio
import logging
import os
import ssl
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

    async def read(self, *, after_pause: bool = False) -> bytes:
        """`after_pause`: the caller waited since its last read (what the socket holds may be taken at once)."""
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


class HttpxBody(Body):
    """httpx's own reading (content codings, content-length, any transport)."""

    def __init__(self, response: httpx.Response) -> None:
        self._chunks = response.aiter_bytes()

    async def read(self, *, after_pause: bool = False) -> bytes:
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
        self._ready = Ready.of(network)
        self._state = state
        self._decoder = decoder
        # What h11 read with the headers, already decoded (`open_body`); h11 keeps its copy and reads it at the end.
        self._first = first
        self._handed = False

    async def read(self, *, after_pause: bool = False) -> bytes:
        if self._first:
            first, self._first = self._first, b""
            return first
        decoder = self._decoder
        ready = self._ready if after_pause else None
        while not decoder.done:
            data = ready.read() if ready is not None else None
            ready = None  # at most one read without the loop: a read through it yields to other tasks
            if data is not None:
                await self._ready.flush()  # type: ignore[union-attr]  # ready is self._ready
            else:
                data = await self._read()
            try:
                payload = decoder.feed(data)
            except ChunkedError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from None
            if payload:
                return payload
        self._hand_back()
        return b""

    async def _read(self) -> bytes:
        """One read through httpcore (the event loop), its errors as httpx's."""
        try:
            data: bytes = await self._network.read(READ_BYTES)
        except httpcore.ReadError as exc:
            raise httpx.ReadError(str(exc)) from None
        except httpcore.ReadTimeout as exc:
            raise httpx.ReadTimeout(str(exc)) from None
        if not data:
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
        return data

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


class Ready:
    """What the connection's socket already holds, read without the event loop (see the module's docstring).

    `read()` returns the bytes, or None when a read through httpcore is needed (nothing there yet, the
    peer's end, an error, anything unexpected). Over TLS, `flush()` then sends what the SSL object
    wants sent after a read (a TLS 1.3 key update's answer), as anyio does after each of its calls.
    Reached through attributes of anyio 4 (its asyncio SocketStream and TLSStream); `of` gives None
    for anything else, and the body is read through httpcore alone.
    """

    __slots__ = ("_fd", "_protocol", "_tls", "_transport")

    def __init__(self, transport: Any, protocol: Any, fd: int, tls: Any) -> None:
        self._transport = transport
        self._protocol = protocol
        self._fd = fd
        self._tls = tls

    @classmethod
    def of(cls, network: Any) -> Ready | None:
        stream: Any = getattr(network, "_stream", None)
        tls = None
        if hasattr(stream, "transport_stream") and hasattr(stream, "_ssl_object"):  # anyio's TLSStream
            tls, stream = stream, stream.transport_stream
            if not all(hasattr(tls, name) for name in ("_read_bio", "_write_bio", "_broken")):
                return None
        transport = getattr(stream, "_transport", None)
        protocol = getattr(stream, "_protocol", None)
        if not (isinstance(transport, asyncio.Transport) and hasattr(protocol, "read_queue")
                and hasattr(protocol, "read_event") and hasattr(protocol, "is_at_eof")):
            return None
        sock = transport.get_extra_info("socket")
        if sock is None:
            return None
        return cls(transport, protocol, sock.fileno(), tls)

    def read(self) -> bytes | None:
        tls = self._tls
        if tls is None:
            return self._from_socket()
        if tls._broken:
            return None
        while True:
            try:
                data: bytes = tls._ssl_object.read(READ_BYTES)
            except ssl.SSLWantReadError:
                raw = self._from_socket()
                if raw is None:
                    return None  # the SSL object keeps what it was given; anyio's read goes on from there
                tls._read_bio.write(raw)
                continue
            except ssl.SSLError as exc:  # anyio would mark the stream broken: the connection is not reused
                raise httpx.ReadError(str(exc)) from None
            return data or None  # b"": the peer's close_notify, for httpcore to report as the end

    def _from_socket(self) -> bytes | None:
        protocol, transport = self._protocol, self._transport
        if (protocol.read_queue or protocol.read_event.is_set() or protocol.is_at_eof
                or getattr(protocol, "exception", None) is not None or transport.is_closing()
                or transport.is_reading()):
            return None  # anyio's own state decides: its buffer first, its reading, its end
        try:
            return os.read(self._fd, READ_BYTES) or None  # b"": the peer's end, which anyio reports
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            raise httpx.ReadError(str(exc)) from None

    async def flush(self) -> None:
        tls = self._tls
        if tls is not None and tls._write_bio.pending:
            try:
                await tls.transport_stream.send(tls._write_bio.read())
            except Exception as exc:
                raise httpx.ReadError(str(exc)) from None


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
