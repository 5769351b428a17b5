"""Streamed answers through a real daphne, which sends each chunk when it is written (grokweb.serving.prompt_writes)."""
from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from accounts import tokens
from grokweb import serving
from tests.site.daphne import running_daphne

pytestmark = pytest.mark.django_db(transaction=True)
MODEL = "grok-4-1-fast-non-reasoning"


def _streamed_text(http: httpx.Client, url: str, key: str, prompt: str) -> tuple[str, dict[str, Any]]:
    """A streamed completion read to its end (the chunked body's terminator too), as the async SDK does."""
    payload = {"model": MODEL, "stream": True, "stream_options": {"include_usage": True},
               "messages": [{"role": "user", "content": prompt}]}
    text, usage, done = [], {}, False
    with http.stream("POST", f"{url}/chat/completions", json=payload, headers={"Authorization": f"Bearer {key}"}) as r:
        assert r.status_code == 200 and r.headers["transfer-encoding"] == "chunked"
        for line in r.iter_lines():
            if line == "data: [DONE]":
                done = True
            elif line.startswith("data: "):
                chunk = json.loads(line[6:])
                usage = chunk.get("usage") or usage
                text += [c["delta"].get("content") or "" for c in chunk["choices"]]
    assert done
    return "".join(text), usage


def test_streams_through_daphne_arrive_whole_in_order_on_one_kept_connection(user, emulator_provider,
                                                                              emulator_url) -> None:
    key = tokens.create(user, "script")[1]
    prompts = [f"Tell me a story number {n} [[tokens=300]]" for n in range(3)]
    with openai.OpenAI(base_url=emulator_url, api_key="emulator", max_retries=0) as upstream:
        expected = [upstream.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": p}])
                    .choices[0].message.content for p in prompts]
    with running_daphne() as url, httpx.Client(timeout=60) as http:
        answers = [_streamed_text(http, f"{url}/v1", key, p) for p in prompts]
        connections = http._transport._pool.connections  # type: ignore[attr-defined]
        assert len(connections) == 1  # every answer ended cleanly: the one connection was kept for the next
        whole = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": prompts[0]}])
    assert [text for text, _ in answers] == expected  # every token, in order, unchanged
    assert [usage["completion_tokens"] for _, usage in answers] == [300, 300, 300]
    assert whole.choices[0].message.content == expected[0]


class _Transport:
    """What `_write_now` reads of a Twisted TCP transport; `take` bytes accepted per send."""

    TLS = False

    def __init__(self, take: int | None, queued: bytes = b"", half_sent: bytes = b"") -> None:
        self.connected, self.disconnecting = True, False
        self._writeDisconnected = self._writeDisconnecting = False
        self._tempDataBuffer = [queued] if queued else []
        self._tempDataLen = len(queued)
        self.dataBuffer, self.offset = half_sent, 0
        self.take = take
        self.sent: list[bytes] = []

    def writeSomeData(self, data: bytes) -> int:
        part = data if self.take is None else data[:self.take]
        self.sent.append(part)
        return len(part)

    def writeSequence(self, iovec: list[bytes]) -> None:
        serving._write_sequence_now(self, iovec)


@pytest.fixture
def twisted_buffer(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """What goes to Twisted's own buffer (sent at the loop's next turn)."""
    left: list[bytes] = []

    def queue(transport: _Transport, data: bytes) -> None:
        left.append(data)
        transport._tempDataBuffer.append(data)
        transport._tempDataLen += len(data)

    monkeypatch.setattr(serving, "_TWISTED_WRITE", queue)
    monkeypatch.setattr(serving, "_TWISTED_WRITE_SEQUENCE", lambda transport, iovec: queue(transport, b"".join(iovec)))
    return left


def test_what_the_socket_does_not_take_is_left_to_twisted_in_order(twisted_buffer: list[bytes]) -> None:
    slow = _Transport(take=3)
    serving._write_sequence_now(slow, [b"a\r\n", b"hello", b"\r\n"])
    assert slow.sent == [b"a\r\n"] and twisted_buffer == [b"hello\r\n"]  # the rest follows, nothing lost


def test_queued_bytes_go_first_in_the_same_send_and_a_half_done_send_is_never_jumped(twisted_buffer) -> None:
    queued = _Transport(take=None, queued=b"earlier ")
    serving._write_now(queued, b"later")
    assert queued.sent == [b"earlier later"] and queued._tempDataLen == 0 and twisted_buffer == []
    half = _Transport(take=None, half_sent=b"still going out")
    serving._write_now(half, b"later")
    assert half.sent == [] and twisted_buffer == [b"later"]


def test_a_response_s_headers_leave_with_its_first_chunk_in_one_send(twisted_buffer, monkeypatch) -> None:
    def write_headers(channel, version, code, reason, headers):  # type: ignore[no-untyped-def]
        channel.transport.writeSequence([version, b" ", code, b" ", reason, b"\r\n\r\n"])

    monkeypatch.setattr(serving, "_TWISTED_WRITE_HEADERS", write_headers)
    transport = _Transport(take=None)
    channel = type("Channel", (), {"transport": transport})()
    serving._write_headers(channel, b"HTTP/1.1", b"200", b"OK", None)
    assert transport.sent == []  # held until the body's first bytes
    serving._write_sequence_now(transport, [b"5\r\n", b"hello", b"\r\n"])
    assert transport.sent == [b"HTTP/1.1 200 OK\r\n\r\n5\r\nhello\r\n"]
