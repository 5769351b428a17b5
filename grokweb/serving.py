"""What daphne (Twisted) does at the edge of the socket, before our app sees a request or after it answers.

Twisted reads a request line by line and, when a line is longer than 16 KiB, drops the
connection without a word (LineReceiver's default): a search of 20,000 characters in
a URL got no answer at all, and the browser showed a network error. Here such a
request is answered, 414 for the request line, 431 for a header, then closed.

Twisted also never writes when asked: `transport.write` (and `writeSequence`, which every
HTTP response uses: its headers, then each chunk of a chunked body) appends to a buffer and
registers the socket for writing; only the event loop's next turn sends it. A streamed
answer's first chunk therefore waited for everything else that turn did: relaying a gateway
that sent many tokens in one read, the first token left only after the last of them had been
turned into chunks. `prompt_writes` sends at once (`_write_now`): a response's headers
together with its first bytes, then each chunk as it is written. It also turns Nagle's
algorithm off on accepted connections (TCP_NODELAY, as uvicorn and asyncio do), so a small
chunk sent right after another is not held back until the client acknowledges the first.

Twisted reads the Content-Type of every POST through the standard library's e-mail parser
(`twisted.web.http._parseContentType`, to tell a form from anything else): about 0.1 ms of CPU a
request here, before our app sees it, for `application/json`. `quick_content_types` answers a
plain `type/subtype` (parameters after it ignored, as the e-mail parser ignores them) itself and
leaves anything else (comments, no slash, odd characters) to the e-mail parser.

And autobahn (daphne's websocket) formats the arguments of a debug log line for every frame it
sends, whether debug logging is on or not, colouring four of them with click when click is
installed: about 16 µs per frame here, as much as the rest of autobahn's framing.
`plain_autobahn_log_arguments` makes that colouring plain text (it shows only in autobahn's
debug logs, which we do not turn on).
"""
from __future__ import annotations

import re
import socket
from collections.abc import Iterable
from typing import Any

_TWISTED_WRITE: Any = None  # tcp.Server.write before prompt_writes
_TWISTED_WRITE_SEQUENCE: Any = None  # tcp.Server.writeSequence before prompt_writes
_TWISTED_WRITE_HEADERS: Any = None  # HTTPChannel.writeHeaders before prompt_writes
_TWISTED_INIT: Any = None  # tcp.Server.__init__ before prompt_writes
_TWISTED_CONTENT_TYPE: Any = None  # twisted.web.http._parseContentType before quick_content_types
_PLAIN_TYPE = re.compile(rb"[ \t]*([A-Za-z0-9!#$%&'*+.^_`|~-]+/[A-Za-z0-9!#$%&'*+.^_`|~-]+)[ \t]*(?:;.*)?", re.DOTALL)
_holding_headers = False  # inside HTTPChannel.writeHeaders (the event loop's thread only)

BODY = b"The request line or a header is too long."


def _refuse_overlong_line(channel: Any, line: bytes) -> None:
    first_line = getattr(channel, "_HTTPChannel__first_line", 1)
    status = b"414 URI Too Long" if first_line else b"431 Request Header Fields Too Large"
    channel.transport.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain; charset=utf-8\r\n"
                            b"Content-Length: " + str(len(BODY)).encode() + b"\r\nConnection: close\r\n\r\n" + BODY)
    channel.transport.loseConnection()


def answer_overlong_lines() -> None:
    """Make daphne's HTTP channel answer an overlong line (when daphne is what serves us)."""
    try:
        from twisted.web import http
    except ImportError:  # served by something else (uvicorn in the Team API's tests)
        return
    http.HTTPChannel.lineLengthExceeded = _refuse_overlong_line  # type: ignore[method-assign]


def _write_now(transport: Any, data: Any) -> None:
    """`tcp.Server.write`, sending at once what the kernel takes, after what is queued and not yet tried.

    Only when the connection is open, not closing, not speaking TLS through Twisted's own
    `startTLS` (a `ssl:` endpoint's TLS sits above this transport and ends here as bytes), and
    no send is half done (Twisted's `dataBuffer` is empty): bytes still queued in its list
    (a response's headers, `_write_headers`) go first, in the same send, so order cannot
    change. What the kernel does not take (a slow reader's socket buffer is full) goes back to
    Twisted's buffer, and with it its producer and disconnect handling; so does everything when
    a send fails (the loop's send then fails the same way and Twisted closes the connection as
    it always did). The socket stays registered for writing if it was: Twisted's next turn
    finds nothing left and unregisters it.
    """
    if (type(data) is bytes and data and transport.connected and not transport.disconnecting
            and not transport._writeDisconnected and not transport._writeDisconnecting
            and not transport.TLS and transport.offset == len(transport.dataBuffer)):
        if transport._tempDataLen:
            data = b"".join([*transport._tempDataBuffer, data])
            transport._tempDataBuffer, transport._tempDataLen = [], 0
        sent = transport.writeSomeData(data)
        if isinstance(sent, BaseException) or sent < 0:
            _TWISTED_WRITE(transport, data)
        elif sent < len(data):
            _TWISTED_WRITE(transport, data[sent:])
        return
    _TWISTED_WRITE(transport, data)


def _write_sequence_now(transport: Any, iovec: Iterable[bytes]) -> None:
    """`tcp.Server.writeSequence` (each chunk of a chunked body) as one `_write_now`; a response's headers wait."""
    if _holding_headers:
        _TWISTED_WRITE_SEQUENCE(transport, iovec)
    else:
        _write_now(transport, b"".join(iovec))


def _write_headers(channel: Any, *args: Any, **kwargs: Any) -> None:
    """`HTTPChannel.writeHeaders`, queued: they leave with the body's first bytes, written right after them.

    Sent alone, the headers were a send of their own, and a client reading them woke once for
    them and once more for the first chunk. A response with no body sends them at the loop's
    next turn, as Twisted always did.
    """
    global _holding_headers
    _holding_headers = True
    try:
        _TWISTED_WRITE_HEADERS(channel, *args, **kwargs)
    finally:
        _holding_headers = False


def _accepted(transport: Any, sock: Any, *args: Any, **kwargs: Any) -> None:
    _TWISTED_INIT(transport, sock, *args, **kwargs)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:  # not TCP (or already gone): nothing to turn off
        pass


def prompt_writes() -> None:
    """Have daphne's accepted connections send at once what they can (`_write_now`). Idempotent."""
    global _TWISTED_WRITE, _TWISTED_WRITE_SEQUENCE, _TWISTED_WRITE_HEADERS, _TWISTED_INIT
    try:
        from twisted.internet import tcp
        from twisted.web import http
    except ImportError:  # served by something else
        return
    if _TWISTED_WRITE is None:
        _TWISTED_WRITE, _TWISTED_WRITE_SEQUENCE = tcp.Server.write, tcp.Server.writeSequence
        _TWISTED_WRITE_HEADERS, _TWISTED_INIT = http.HTTPChannel.writeHeaders, tcp.Server.__init__
        tcp.Server.write = _write_now  # type: ignore[method-assign,assignment]
        tcp.Server.writeSequence = _write_sequence_now  # type: ignore[method-assign,assignment]
        http.HTTPChannel.writeHeaders = _write_headers  # type: ignore[method-assign,assignment]
        tcp.Server.__init__ = _accepted  # type: ignore[method-assign,assignment]


def _content_type(line: bytes) -> bytes:
    """`_parseContentType`: the lower-cased `type/subtype` of a plain value, else the e-mail parser's answer."""
    plain = _PLAIN_TYPE.fullmatch(line)
    if plain is not None:
        return plain.group(1).lower()
    return _TWISTED_CONTENT_TYPE(line)  # type: ignore[no-any-return]


def quick_content_types() -> None:
    """Have Twisted read a plain Content-Type without the e-mail parser (`_content_type`). Idempotent."""
    global _TWISTED_CONTENT_TYPE
    try:
        from twisted.web import http
    except ImportError:  # served by something else
        return
    if _TWISTED_CONTENT_TYPE is None:
        _TWISTED_CONTENT_TYPE = http._parseContentType
        http._parseContentType = _content_type


def plain_autobahn_log_arguments() -> None:
    """autobahn's `hl` (log colouring) without click: plain text, a few µs less per websocket frame."""
    try:
        from autobahn import util
    except ImportError:
        return
    util._HAS_CLICK = False


def close_codes_on_failure() -> None:
    """Have autobahn fail a websocket with a close frame and its code, not by dropping TCP. Idempotent.

    autobahn's default (`failByDrop`) cuts the connection when a client breaks a limit or the
    protocol: a message over daphne's 1 MiB (`--websocket_max_message_size`) reached the browser as
    1006 (abnormal closure, no code), indistinguishable from a network failure. Now it hears 1009
    (message too big), 1002 (protocol error) or 1007 (text that is not UTF-8), as RFC 6455 says,
    and docs/protocol.md lists. Once per factory: nothing per frame.
    """
    try:
        from daphne import ws_protocol
    except ImportError:  # served by something else
        return
    factory = ws_protocol.WebSocketFactory
    if getattr(factory, "_closes_with_codes", False):
        return
    original = factory.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.setProtocolOptions(failByDrop=False)

    factory.__init__ = __init__  # type: ignore[method-assign]
    factory._closes_with_codes = True  # type: ignore[attr-defined]
