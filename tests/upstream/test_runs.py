"""A read's events at once (the relay's coalesced reads): the same data and events as one at a time.

`SSEDecoder.feed_data` cuts the usual `data: ...` events out with one split, and `chunks.parse_run`
reads a plain answer token with a few lookups and joins adjacent answer texts. Both must give
exactly what the general rules give, for every shape a gateway may send, cut anywhere.
"""
from __future__ import annotations

import json
import random

import pytest

from gateways.wire.chunks import StreamDone, parse_payload, parse_run
from gateways.wire.errors import UpstreamError
from gateways.wire.events import ContentDelta, UpstreamEvent
from gateways.wire.sse import SSEDecoder
from tests.upstream.joining import joined


def token(text: str) -> str:
    return json.dumps({"id": "x", "choices": [{"index": 0, "delta": {"content": text}}]})


PAYLOADS = [
    token(" one"), token(" two 😀"), token(""), token("\ud83d"), token("\ude00 x"),
    json.dumps({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
    json.dumps({"choices": [{"index": 0, "delta": {"reasoning_content": "hmm"}}]}),
    json.dumps({"choices": [{"index": 0, "delta": {"reasoning": "so", "content": " both"}}]}),
    json.dumps({"choices": [{"index": 0, "delta": {"content": " fin"}, "finish_reason": "stop"}]}),
    json.dumps({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}),
    json.dumps({"choices": [{"index": 0, "delta": {"content": " u"}}], "usage": {"completion_tokens": 1}}),
    json.dumps({"choices": [{"index": 1, "delta": {"content": " other choice"}},
                            {"index": 0, "delta": {"content": " first"}}]}),
    json.dumps({"choices": [{"index": 0, "delta": {"content": 5}}]}),
    json.dumps({"choices": [{"index": 0, "delta": {"content": " meta"}}], "meta": {"usage": {"tokens": 1}},
                "usage": {"completion_tokens": 2}}),
    json.dumps([1, 2]), "not json", " [DONE] ", '{"choices": "odd"}',
    '{"choices": [{"delta": {"content": " no index"}}]}',
]
ERROR = json.dumps({"error": {"message": "overloaded", "code": "rate_limit"}})


def one_at_a_time(payloads: list[str]) -> tuple[list[UpstreamEvent], str | None]:
    events: list[UpstreamEvent] = []
    for data in payloads:
        try:
            events.extend(parse_payload(data))
        except StreamDone as end:  # `[DONE]`, however spaced, ends the read as an error does
            return events + end.events, "done"
        except UpstreamError as exc:
            return events, exc.code
    return events, None


def test_parse_run_gives_the_events_of_each_payload_with_answer_texts_joined() -> None:
    rng = random.Random(7)
    for _ in range(500):
        payloads = [rng.choice(PAYLOADS) for _ in range(rng.randint(0, 12))]
        if rng.random() < 0.2:
            payloads.insert(rng.randint(0, len(payloads)), ERROR)
        events, error = parse_run(payloads)
        want, want_error = one_at_a_time(payloads)
        assert events == joined(want)
        assert (error.code if isinstance(error, UpstreamError) else error and "done") == want_error


def test_a_run_of_plain_tokens_is_one_delta() -> None:
    assert parse_run([token(" a"), token(" b"), token(" c")]) == ([ContentDelta(" a b c")], None)


SSE_SHAPES = [
    b"data: " + token(" t").encode() + b"\n\n",
    b"data:" + token(" nospace").encode() + b"\n\n",
    b": keep-alive\n\n",
    b"event: message\ndata: " + token(" ev").encode() + b"\n\n",
    b"id: 7\ndata: " + token(" id").encode() + b"\n\n",
    b"data: first line\ndata: second line\n\n",
    b"data: " + token(" crlf").encode() + b"\r\n\r\n",
    b"retry: 10\n\n",
    b"\n",
    b"data: [DONE]\n\n",
]


@pytest.mark.parametrize("seed", range(40))
def test_feed_data_gives_the_data_of_every_event_feed_gives(seed: int) -> None:
    rng = random.Random(seed)
    stream = (b"\xef\xbb\xbf" if seed % 5 == 0 else b"") + b"".join(rng.choice(SSE_SHAPES) for _ in range(40))
    cuts = sorted(rng.sample(range(1, len(stream)), rng.randint(0, 25)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    general, fast = SSEDecoder(), SSEDecoder()
    want = [event.data for piece in pieces for event in general.feed(piece)]
    assert [data for piece in pieces for data in fast.feed_data(piece)] == want
    assert want  # the shapes above make events
