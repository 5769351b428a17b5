"""What daphne (Twisted) does at the edge of the socket, before our app sees a request or after it answers.

Twisted reads a request line by line and, when a line is longer than 16 KiB, drops the
connection without a word (LineReceiver's default): a search of 20,000 characters in
a URL got no answer at all, and the browser showed a network error. Here such a
request is answered, 414 for the request line, 431 for a header, then closed.

Twisted also never writes when asked: `transport.write` appends to a buffer and registers
the socket for writing, and only the event loop's next turn sends it (then unregisters the
socket). Every websocket frame and every streamed HTTP chunk paid two `epoll_ctl` calls, one
more loop iteration and Twisted's buffer bookkeeping for one `send`. `prompt_writes` sends at
once when nothing is waiting to go out (see `_write_now`).

And autobahn (daphne's websocket) formats the arguments of a debug log line for every frame it
sends, whether debug logging is on or not, colouring four of them with click when click is
installed: about 16 µs per frame here, as much as the rest of autobahn's framing.
`plain_autobahn_log_arguments` makes that colouring plain text (it shows only in autobahn's
debug logs, which we do not turn on).
"""
from __future__ import annotations

from typing import Any

_TWISTED_WRITE: Any = None  # tcp.Server.write before prompt_writes

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
    """`tcp.Server.write`, sending at once what the kernel takes when nothing is buffered.

    Only when the connection is open, not closing, not speaking TLS through Twisted's own
    `startTLS` (a `ssl:` endpoint's TLS sits above this transport and ends here as bytes), and
    nothing written earlier is still waiting: then order cannot change. What the kernel does
    not take (a slow reader's socket buffer is full) goes to Twisted's buffer as before, and
    with it its producer and disconnect handling; so does everything when a send fails (the
    loop's send then fails the same way and Twisted closes the connection as it always did).
    """
    if (type(data) is bytes and data and transport.connected and not transport.disconnecting
            and not transport._writeDisconnected and not transport._writeDisconnecting
            and not transport.TLS and not transport._tempDataLen
            and transport.offset == len(transport.dataBuffer)):
        sent = transport.writeSomeData(data)
        if isinstance(sent, BaseException) or sent < 0:
            _TWISTED_WRITE(transport, data)
        elif sent < len(data):
            _TWISTED_WRITE(transport, data[sent:])
        return
    _TWISTED_WRITE(transport, data)


def prompt_writes() -> None:
    """Have daphne's accepted connections send at once what they can (`_write_now`). Idempotent."""
    global _TWISTED_WRITE
    try:
        from twisted.internet import tcp
    except ImportError:  # served by something else
        return
    if _TWISTED_WRITE is None:
        _TWISTED_WRITE = tcp.Server.write
        tcp.Server.write = _write_now  # type: ignore[method-assign,assignment]


def plain_autobahn_log_arguments() -> None:
    """autobahn's `hl` (log colouring) without click: plain text, a few µs less per websocket frame."""
    try:
        from autobahn import util
    except ImportError:
        return
    util._HAS_CLICK = False
