"""What a tab sees when a real OpenAI-compatible gateway strays from UPSTREAM.md (docs/protocol.md).

The provider points at a scripted gateway on loopback (tests.upstream.test_body) writing the exact
bytes; the reply goes through the socket, the hub, the runner, the client and the ledger. Every reply
ends with one `message.done` (whole, billed) or one `message.error` (a clear code and the gateway's
words, the text so far kept), and nothing is left `streaming`.
"""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from channels.db import database_sync_to_async

from chat.models import Message
from tests.chat.wsclient import open_socket
from tests.upstream.test_body import CHUNKED_HEAD, Gateway, Script, chunked, gateway, sse, token
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db(transaction=True)
db = database_sync_to_async
END = ("message.done", "message.error")
JSON_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"


def _provider(url: str) -> None:
    from gateways import catalog, offering
    from gateways.models import Provider

    provider = Provider(name="Scripted gateway", kind=Provider.Kind.OPENAI, base_url=url, max_retries=0)
    provider.set_api_key("k")
    provider.save()
    offering.offer(provider, list(catalog.CATALOG))


@asynccontextmanager
async def provider_at(script: Script) -> AsyncIterator[Gateway]:
    async with gateway(script) as (served, endpoint):
        await db(_provider)(endpoint.base_url)
        yield served


async def _ask(user: Any, script: Script) -> tuple[dict[str, Any], Message, list[dict[str, Any]]]:
    async with provider_at(script):
        socket = await open_socket(user)
        created = await socket.chat("Hello?")
        reply = created["assistant_message"]["id"]
        frames = []
        while (frame := await socket.recv())["type"] not in END or frame.get("message") != reply:
            frames.append(frame)
        await socket.close()
    return frame, await db(Message.objects.get)(id=reply), frames


async def _record(message: Message) -> UsageRecord:
    return await db(UsageRecord.objects.get)(message_id=message.id)


async def test_a_gateway_that_ignores_stream_true_gives_a_whole_billed_reply(user) -> None:
    completion = json.dumps({"object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hello there."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 21, "completion_tokens": 3, "total_tokens": 24}}).encode()
    end, stored, _ = await _ask(user, lambda n: [JSON_HEAD % len(completion) + completion])
    assert end["type"] == "message.done" and end["status"] == "complete" == stored.status
    assert end["content"] == stored.content == "Hello there." and end["finish_reason"] == "stop"
    assert end["usage"]["prompt_tokens"] == 21 and end["usage"]["completion_tokens"] == 3
    assert not end["usage"]["estimated"]
    record = await _record(stored)
    assert (record.prompt_tokens, record.completion_tokens, record.estimated) == (21, 3, False)


async def test_an_openrouter_style_stream_ends_whole_with_a_finish_reason_the_protocol_knows(user) -> None:
    """Comments, reasoning only in `reasoning_details`, `end_turn`, usage with `cost` as a string, no [DONE]."""
    body = (b": OPENROUTER PROCESSING\n\n"
            + sse({"choices": [{"index": 0, "delta": {"role": "assistant", "content": None,
                                                      "reasoning_details": [{"type": "reasoning.text",
                                                                             "text": "Let me think."}]}}]})
            + b": OPENROUTER PROCESSING\n\n" + sse(token("Hello")) + sse(token(" there."))
            + sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "end_turn"}]})
            + sse({"choices": [], "usage": {"prompt_tokens": "21", "completion_tokens": 3.0, "total_tokens": 24,
                                            "cost": "0.0000123"}}))
    end, stored, _ = await _ask(user, lambda n: [CHUNKED_HEAD, *chunked([body])])
    assert end["type"] == "message.done" and stored.status == "complete"
    assert end["finish_reason"] == "stop" == stored.finish_reason
    assert end["reasoning"] == stored.reasoning == "Let me think." and end["content"] == "Hello there."
    assert end["usage"]["prompt_tokens"] == 21 and not end["usage"]["estimated"]
    record = await _record(stored)
    assert record.prompt_tokens == 21 and record.stated_cost_ticks == 123_000


async def test_an_error_event_midway_ends_the_reply_clearly_with_its_text_kept(user) -> None:
    body = sse(token("Hello")) + sse(token(" the")) + sse(
        {"error": {"message": "Upstream provider crashed mid-reply", "code": 502}})
    end, stored, frames = await _ask(user, lambda n: [CHUNKED_HEAD, *chunked([body])])
    assert end["type"] == "message.error" and end["code"] == "upstream_unavailable" and end["retryable"]
    assert "Upstream provider crashed mid-reply" in end["detail"]
    assert end["content"] == stored.content == "Hello the" and stored.status == "error"
    assert "".join(f["content"] for f in frames if f["type"] == "message.delta") == "Hello the"
    assert end["usage"]["estimated"] and end["usage"]["completion_tokens"] > 0  # billed what was written


async def test_an_error_answered_with_200_is_a_clear_refusal_billed_nothing(user) -> None:
    refusal = json.dumps({"code": "The caller does not have permission to execute the specified operation",
                          "error": "Content violates usage guidelines. Failed check: SAFETY_CHECK_TYPE_BIO"}).encode()
    end, stored, frames = await _ask(user, lambda n: [JSON_HEAD % len(refusal) + refusal])
    assert end["type"] == "message.error" and end["code"] == "content_blocked" and not end["retryable"]
    assert "usage guidelines" in end["detail"] and stored.status == "error" and stored.content == ""
    assert not [f for f in frames if f["type"] == "message.delta"]
    record = await _record(stored)
    assert record.total_tokens == 0 and not record.estimated


async def test_a_finish_reason_of_error_ends_the_reply_as_an_error_not_complete(user) -> None:
    body = sse(token("Hello")) + sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "error"}]}) + sse("[DONE]")
    end, stored, _ = await _ask(user, lambda n: [CHUNKED_HEAD, *chunked([body])])
    assert end["type"] == "message.error" and end["code"] == "upstream_unavailable" and end["content"] == "Hello"
    assert stored.status == "error"


async def test_a_gateway_whose_usage_counts_nothing_gets_an_estimate_never_a_free_reply(user) -> None:
    zero = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    body = (sse({**token("Hello there, a reply of some length."), "usage": zero})
            + sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": zero}) + sse("[DONE]"))
    end, stored, _ = await _ask(user, lambda n: [CHUNKED_HEAD, *chunked([body])])
    assert end["type"] == "message.done" and stored.status == "complete"
    assert end["usage"]["estimated"] and end["usage"]["prompt_tokens"] > 0 and end["usage"]["completion_tokens"] > 0
    record = await _record(stored)
    assert record.estimated and record.completion_tokens > 0


async def test_an_error_event_after_the_finish_leaves_the_reply_whole_and_estimated(user) -> None:
    body = (sse(token("Hello")) + sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            + sse({"error": {"message": "Provider disconnected", "code": 502}}))
    end, stored, _ = await _ask(user, lambda n: [CHUNKED_HEAD, *chunked([body])])
    assert end["type"] == "message.done" and stored.status == "complete" and end["content"] == "Hello"
    assert end["finish_reason"] == "stop" and end["usage"]["estimated"]


@pytest.mark.parametrize("error", [
    sse({"error": {"message": "The service is overloaded, try again later"}}),
    b"event: error\ndata: {\"message\": \"The service is overloaded, try again later\"}\n\n",
], ids=["error-event", "event-named-error"])
async def test_an_error_event_before_anything_billable_is_the_gateways_refusal_billed_nothing(user, error) -> None:
    """No token and no usage, then the gateway's own error: as an error status, nothing is billed (not an estimate)."""
    body = b": keep-alive\n\n" + sse({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}) + error
    end, stored, frames = await _ask(user, lambda n: [CHUNKED_HEAD, *chunked([body])])
    assert end["type"] == "message.error" and end["code"] == "upstream_unavailable"
    assert "overloaded" in end["detail"] and stored.status == "error" and stored.content == ""
    record = await _record(stored)
    assert (record.outcome, record.total_tokens, record.estimated) == ("error", 0, False)


async def test_a_stream_cut_before_anything_billable_is_still_estimated(user) -> None:
    """A cut is not the gateway saying it failed: it may have read the prompt, so the prompt is estimated."""
    body = sse({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})
    end, stored, _ = await _ask(user, lambda n: [CHUNKED_HEAD, *chunked([body])])
    assert end["type"] == "message.error" and "closed before the reply was finished" in end["detail"]
    record = await _record(stored)
    assert record.estimated and record.prompt_tokens > 0
