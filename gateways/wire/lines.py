"""Newline-delimited JSON streams (a chunk per line, no `data:`), decoded like SSE payloads. Pure.

Some OpenAI-compatible servers stream Chat Completions chunks as NDJSON (`application/x-ndjson`,
`application/jsonl`, or plain `application/json`) instead of server-sent events. Each line is one
payload for the chunk parser (gateways.wire.chunks), as an SSE event's data would be; the client
picks this decoder instead of SSEDecoder when the body opens with JSON and is lines of it.
"""
from __future__ import annotations

import codecs

import orjson

# Content types that say "a JSON value per line" (no standard name: each is in use somewhere).
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonl",
                "application/jsonlines", "application/json-lines", "application/x-jsonlines")


def is_ndjson_type(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() in NDJSON_TYPES


class LineDecoder:
    """Feed bytes as they arrive; get the lines completed so far (blank lines skipped), as SSEDecoder's
    `feed_data` gives event data. `flush_data` gives a last line the body ended without a newline."""

    def __init__(self) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""

    def feed_data(self, chunk: bytes) -> list[str]:
        *lines, self._buffer = (self._buffer + self._text.decode(chunk)).split("\n")
        return [line for line in (raw.strip(" \t\r\ufeff") for raw in lines) if line]

    def flush_data(self) -> list[str]:
        last = (self._buffer + self._text.decode(b"", final=True)).strip(" \t\r\ufeff")
        self._buffer = ""
        return [last] if last else []


def is_chat_chunk(line: str) -> bool:
    """Whether a line may be a Chat Completions chunk: False only for a JSON object with none of a chunk's
    keys (`choices`, `usage`, `error`), such as Ollama's own `{"message": {...}, "done": false}`."""
    try:
        value = orjson.loads(line)
    except ValueError:
        return True  # not JSON: the chunk parser's to judge ([DONE], half a line)
    return not isinstance(value, dict) or any(key in value for key in ("choices", "usage", "error"))

