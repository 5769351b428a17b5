"""What daphne (Twisted) does at the edge of HTTP, before our app sees a request.

Twisted reads a request line by line and, when a line is longer than 16 KiB, drops the
connection without a word (LineReceiver's default): a search of 20,000 characters in
a URL got no answer at all, and the browser showed a network error. Here such a
request is answered, 414 for the request line, 431 for a header, then closed.
"""
from __future__ import annotations

from typing import Any

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
