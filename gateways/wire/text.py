"""Gateway text made storable and sendable, once, where it enters. Pure.

JSON may escape one character as a surrogate pair and a gateway may cut the pair
between two chunks (`"\\ud83d"` then `"\\ude00"`): each chunk then decodes to a lone
surrogate, which UTF-8 (SQLite, PostgreSQL, msgpack on the Redis layer, the
websocket) cannot encode. PostgreSQL text also refuses NUL. So: a high surrogate at
the end of a delta waits for the next delta of the same stream and is joined with
its low half; whatever cannot be joined, and every NUL, becomes U+FFFD. After this
no layer above `gateways.wire` has to care.
"""
from __future__ import annotations

import re

from .events import ContentDelta, ReasoningDelta, UpstreamEvent

REPLACEMENT = "\ufffd"
_UNSAFE = re.compile("[\ud800-\udfff\x00]")


def mend(text: str) -> str:
    """Join the surrogate pairs in `text`; lone surrogates and NUL become U+FFFD."""
    if _UNSAFE.search(text) is None:  # nearly always: one scan, no copy
        return text
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return joined.replace("\x00", REPLACEMENT)


def _is_high(char: str) -> bool:
    return "\ud800" <= char <= "\udbff"


class TextMender:
    """One text stream (a reply's answer, or its reasoning), delta by delta."""

    def __init__(self) -> None:
        self._high = ""  # a high surrogate that ended the last delta

    def feed(self, text: str) -> str:
        """The storable part of `text`; a trailing high surrogate is kept for the next delta."""
        if self._high:
            text, self._high = self._high + text, ""
        if text and _is_high(text[-1]):
            text, self._high = text[:-1], text[-1]
        return mend(text)

    def flush(self) -> str:
        """The stream ended: a high surrogate still waiting has no other half."""
        high, self._high = self._high, ""
        return REPLACEMENT if high else ""


class EventMender:
    """Upstream events of one stream with their texts mended (answer and reasoning separately).

    A held high surrogate is released (as U+FFFD) before any event that is not text of its
    stream's kind would let it be overtaken, and by `flush` at the end of the stream.
    """

    def __init__(self) -> None:
        self._content = TextMender()
        self._reasoning = TextMender()

    def mend(self, events: list[UpstreamEvent]) -> list[UpstreamEvent]:
        out: list[UpstreamEvent] = []
        for event in events:
            if isinstance(event, ContentDelta):
                text = self._content.feed(event.text)
                if text is not event.text:
                    event = ContentDelta(text)
            elif isinstance(event, ReasoningDelta):
                text = self._reasoning.feed(event.text)
                if text is not event.text:
                    event = ReasoningDelta(text)
            else:
                out.extend(self.flush())
                out.append(event)
                continue
            if event.text:
                out.append(event)
        return out

    def flush(self) -> list[UpstreamEvent]:
        out: list[UpstreamEvent] = []
        if reasoning := self._reasoning.flush():
            out.append(ReasoningDelta(reasoning))
        if content := self._content.flush():
            out.append(ContentDelta(content))
        return out
