"""Server-sent events, decoded per the WHATWG rules from raw bytes.

Gateways differ in the details (CRLF, comments, `data:` with or without a
space, several `data:` lines), so we follow the spec rather than xAI's habits.
Incremental and pure: bytes in, events out, nothing else.
"""
from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str = "message"
    id: str | None = None


class SSEDecoder:
    """Feed bytes as they arrive; get the events completed so far."""

    def __init__(self) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._pending_cr = False
        self._data: list[str] = []
        self._event = ""
        self._last_id: str | None = None
        self._first = True

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        return self._take(self._text.decode(chunk))

    def feed_data(self, chunk: bytes) -> list[str]:
        """The `data` of each event `feed` would give, without building the events.

        What gateways send nearly always: events of one `data: ` line ended by a blank line,
        LF only. Those are cut out with one split; anything else (a comment, another field,
        several data lines, CR, an event begun in an earlier chunk) goes through `feed`'s rules.
        """
        text = self._text.decode(chunk)
        if self._buffer or self._data or self._event or self._pending_cr or self._first or "\r" in text:
            return [e.data if e.event != "error" else _error_data(e) for e in self._take(text)]
        blocks = text.split("\n\n")
        rest = blocks.pop()  # after the last blank line: the start of the next event, or ""
        out: list[str] = []
        for i, block in enumerate(blocks):
            if block.startswith("data: ") and "\n" not in block:
                out.append(block[6:])
                continue
            rest = "\n\n".join(blocks[i:]) + "\n\n" + rest
            break
        if rest:
            out.extend(e.data if e.event != "error" else _error_data(e) for e in self._take(rest))
        return out

    def flush(self) -> list[SSEEvent]:
        """End of stream: an unterminated last event is dropped, as the spec says."""
        self._take(self._text.decode(b"", final=True))
        self._data, self._event = [], ""
        return []

    def flush_data(self) -> list[str]:
        """End of stream, as `flush`, but the `data` of an event left without its blank line is given, not dropped.

        The spec drops it; a gateway that ends every event with one newline leaves all its chunks there.
        A line cut short is given too: whoever reads it finds it is no JSON."""
        self._take(self._text.decode(b"", final=True))
        if self._buffer:
            self._line(self._buffer)
            self._buffer = ""
        data, self._data, self._event = self._data, [], ""
        return ["\n".join(data)] if data else []

    def _take(self, text: str) -> list[SSEEvent]:
        if self._first and text:
            text = text.removeprefix("\ufeff")
            self._first = False
        if self._pending_cr and text.startswith("\n"):
            text = text[1:]  # the \n of a \r\n split across two chunks
        self._pending_cr = False
        events: list[SSEEvent] = []
        buffer = self._buffer + text
        if "\r" not in buffer:  # the common case (LF only): split without a regex
            *lines, self._buffer = buffer.split("\n")
            for line in lines:
                event = self._line(line)
                if event is not None:
                    events.append(event)
            return events
        self._buffer = buffer
        while True:
            cut = _line_end(self._buffer)
            if cut is None:
                break
            end, width = cut
            if width == 1 and self._buffer[end] == "\r" and end + 1 == len(self._buffer):
                self._pending_cr = True  # maybe the first half of \r\n
            line, self._buffer = self._buffer[:end], self._buffer[end + width:]
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment (keep-alive)
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._last_id = value
        return None  # `retry` and unknown fields are ignored

    def _dispatch(self) -> SSEEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return SSEEvent("\n".join(data), event or "message", self._last_id)


def _error_data(event: SSEEvent) -> str:
    """The data `feed_data` gives for an event named `error` (`event: error`, as some proxies end a 200 stream):
    a JSON object with an `error` key, which the chunk parser raises as the gateway's error."""
    try:
        body = json.loads(event.data)
    except ValueError:
        body = event.data
    if isinstance(body, dict) and body.get("error"):
        return event.data
    return json.dumps({"error": body if isinstance(body, dict) and body else (event.data or "error")})


_EOL = re.compile(r"\r\n|\r|\n")
_FIELD = re.compile(r"^(?:data|event|id|retry)(?::|$)|^:", re.MULTILINE)


def plain_text(opening: bytes) -> str | None:
    """The text of a body's opening that holds no SSE at all (no field, no comment): a gateway's plain-text
    answer with 200 ("Internal Server Error", "Rate limit exceeded"), to be read as its error. None for
    anything SSE-like (a stream of keep-alive comments that ends is a cut stream, not a message)."""
    text = opening.decode("utf-8", "replace").removeprefix("\ufeff").strip()
    if not text or _FIELD.search(text.replace("\r\n", "\n").replace("\r", "\n")):
        return None
    return text


def _line_end(buffer: str) -> tuple[int, int] | None:
    """Index and width of the first line terminator (\\r\\n, \\n or \\r)."""
    match = _EOL.search(buffer)
    return None if match is None else (match.start(), match.end() - match.start())
