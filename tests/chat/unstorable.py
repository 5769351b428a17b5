"""A gateway that cuts text anywhere, even inside a surrogate pair, and the reply it makes. For tests.

The gateway is a fake at the HTTP level (httpx.MockTransport): it answers with exactly the
byte pieces a test chose, which the emulator (one token per event) cannot do.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from itertools import pairwise
from typing import Any

import httpx
from channels.db import database_sync_to_async

from chat import services
from chat.generation import Job, Pacing, Runner
from chat.store import DjangoStore
from gateways.wire.client import UpstreamClient


def code_units(text: str) -> list[str]:
    """The UTF-16 code units a JSON encoder escapes `text` into (an astral character becomes two)."""
    units = []
    for char in text:
        point = ord(char)
        if point > 0xFFFF:
            point -= 0x10000
            units += [chr(0xD800 + (point >> 10)), chr(0xDC00 + (point & 0x3FF))]
        else:
            units.append(char)
    return units


def pieces(text: str, cuts: list[int]) -> list[str]:
    """`text` as deltas cut at `cuts` (positions in code units, so a pair may be cut in two)."""
    units = code_units(text)
    bounds = sorted({0, len(units), *(c % (len(units) + 1) for c in cuts)})
    return ["".join(units[a:b]) for a, b in pairwise(bounds)]


def sse_body(answer: list[str], reasoning: list[str] = ()) -> bytes:  # type: ignore[assignment]
    """An xAI-shaped stream: reasoning deltas, answer deltas, a finish, usage, [DONE] (JSON \\u escapes)."""
    def event(payload: dict[str, Any]) -> bytes:
        return b"data: " + json.dumps(payload).encode() + b"\n\n"  # ensure_ascii: lone halves stay escapes

    base = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "grok-4-fast-non-reasoning"}
    out = [event({**base, "choices": [{"index": 0, "delta": {"reasoning_content": r}}]}) for r in reasoning]
    out += [event({**base, "choices": [{"index": 0, "delta": {"content": a}}]}) for a in answer]
    out.append(event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    out.append(event({**base, "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": len(answer),
                                                       "total_tokens": 11 + len(answer)}}))
    return b"".join(out) + b"data: [DONE]\n\n"


def gateway(body: bytes, byte_cuts: list[int]) -> UpstreamClient:
    """A client whose gateway answers `body` in pieces cut at `byte_cuts`."""
    bounds = sorted({0, len(body), *(c % (len(body) + 1) for c in byte_cuts)})

    async def stream() -> AsyncIterator[bytes]:
        for a, b in pairwise(bounds):
            yield body[a:b]

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=stream())

    return UpstreamClient(transport=httpx.MockTransport(answer))


async def run_reply(user: Any, client: UpstreamClient, publish: Callable[[dict[str, Any]], Awaitable[None]]) -> Any:
    """Send a message, stream its reply from `client`, store it for real; the reply's id."""
    started = await database_sync_to_async(services.send)(
        user, request_id=uuid.uuid4(), conversation_id=None, content="hi", model_slug="grok-4-fast-non-reasoning")
    plan = await database_sync_to_async(services.prepare)(started.assistant_message.id)
    job = Job(plan.message_id, plan.prompt_chars)
    runner = Runner(job, client.stream(plan.endpoint, plan.request), publish, DjangoStore(),
                    pacing=Pacing(frame_interval=0.0, checkpoint_first=0.0))
    await runner.run()
    await client.aclose()
    return plan.message_id
