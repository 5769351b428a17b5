"""SSE decoding per the spec, whatever the network does to the bytes."""
from __future__ import annotations

from pathlib import Path

import pytest

from gateways.wire.sse import SSEDecoder, SSEEvent

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "xai_grok-4-fast_stream.sse"


def decode(chunks: list[bytes]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = [e for chunk in chunks for e in decoder.feed(chunk)]
    return events + decoder.flush()


def every_split(data: bytes) -> list[list[bytes]]:
    """The input cut once at every byte boundary, and cut into single bytes."""
    return [[data[:i], data[i:]] for i in range(len(data) + 1)] + [[bytes([b]) for b in data]]


STREAM = (
    b": keep-alive comment\r\n"
    b"data: {\"a\": \"ol\xc3\xa1\"}\r\n\r\n"
    b"data:no-space\n\n"
    b"event: update\nid: 7\ndata: line one\ndata: line two\n\n"
    b"data: third\r\r"
    b"retry: 100\nunknown: x\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    SSEEvent('{"a": "olá"}'),
    SSEEvent("no-space"),
    SSEEvent("line one\nline two", "update", "7"),
    SSEEvent("third", "message", "7"),
    SSEEvent("[DONE]", "message", "7"),
]


@pytest.mark.parametrize("chunks", every_split(STREAM), ids=lambda c: f"{len(c[0])}")
def test_every_byte_split_gives_the_same_events(chunks: list[bytes]) -> None:
    assert decode(chunks) == EXPECTED


def test_recorded_xai_stream_splits_anywhere() -> None:
    data = RECORDED.read_bytes()
    whole = decode([data])
    assert [e.data for e in whole][-1] == "[DONE]" and len(whole) == 5
    for cut in range(0, len(data) + 1, 7):
        assert decode([data[:cut], data[cut:]]) == whole


def test_an_unterminated_last_event_is_dropped() -> None:
    assert decode([b"data: complete\n\ndata: cut sho"]) == [SSEEvent("complete")]


def test_a_multibyte_character_split_across_chunks_survives() -> None:
    encoded = "data: 😀 ok\n\n".encode()
    assert decode([encoded[:8], encoded[8:9], encoded[9:]]) == [SSEEvent("😀 ok")]


def test_a_leading_byte_order_mark_is_ignored() -> None:
    assert decode([b"\xef\xbb\xbfdata: x\n\n"]) == [SSEEvent("x")]
