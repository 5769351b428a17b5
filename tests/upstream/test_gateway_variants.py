"""OpenAI-compatible gateways' variations beyond UPSTREAM.md, each against the real client on loopback.

A scripted gateway (tests.upstream.test_body) writes the exact bytes; the client must give the
whole reply (text, finish, usage) or a clear, classified error.
"""
from __future__ import annotations

import asyncio
import json

import pytest

from gateways.wire.client import Endpoint, UpstreamClient
from gateways.wire.errors import UpstreamError
from gateways.wire.events import ContentDelta, Finish, ReasoningDelta, Usage
from tests.upstream.test_body import CHUNKED_HEAD, FINISH, REQUEST, USAGE, chunk, chunked, gateway, reply, sse, token

DONE = sse("[DONE]")


async def events_of(body: bytes, head: bytes = CHUNKED_HEAD, coalesce_s: float = 0.0) -> list[object]:
    async with gateway(lambda n: [head, *chunked([body])]) as (_, endpoint), UpstreamClient() as client:
        return await reply(client, endpoint, coalesce_s=coalesce_s)


def text_of(events: list[object]) -> str:
    return "".join(e.text for e in events if isinstance(e, ContentDelta))


def reasoning_of(events: list[object]) -> str:
    return "".join(e.text for e in events if isinstance(e, ReasoningDelta))


def finishes(events: list[object]) -> list[str]:
    return [e.reason for e in events if isinstance(e, Finish)]


PLAIN = b"".join(sse(token(t)) for t in ["Hel", "lo"]) + sse(FINISH) + sse(USAGE)

SSE_VARIANTS = {
    "data-without-space": PLAIN.replace(b"data: ", b"data:") + DONE,
    "comments": b": keep-alive\n\n: OPENROUTER PROCESSING\n\n"
    + PLAIN.replace(b"\n\n", b"\n\n: OPENROUTER PROCESSING\n\n") + DONE,
    "id-and-retry": b"retry: 3000\n\n"
    + b"".join(b"id: %d\n" % i + e + b"\n\n" for i, e in enumerate(PLAIN.split(b"\n\n")[:-1])) + DONE,
    "multi-line-data": b"".join(b"data: " + json.dumps(p, indent=1).encode().replace(b"\n", b"\ndata: ") + b"\n\n"
                                for p in [token("Hel"), token("lo"), FINISH, USAGE]) + DONE,
    "bom-crlf": b"\xef\xbb\xbf" + (PLAIN + DONE).replace(b"\n", b"\r\n"),
    "lone-cr": (PLAIN + DONE).replace(b"\n", b"\r"),
    "no-done": PLAIN,
    "blank-events": b"\n\n\n" + PLAIN.replace(b"\n\n", b"\n\n\n\n\n") + b"data: \n\n" + DONE,
    "usage-chunks-around-finish": sse(token("Hel")) + sse({"choices": [], "usage": None}) + sse(token("lo"))
    + sse({"choices": [], "usage": {"prompt_tokens": 3}}) + sse(FINISH) + sse(USAGE) + DONE,
    "role-only-and-null-content": sse({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})
    + sse({"choices": [{"index": 0, "delta": {"role": "assistant", "content": None}}]}) + PLAIN + DONE,
    "several-choices": sse({"choices": [{"index": 1, "delta": {"content": "NO"}},
                                        {"index": 0, "delta": {"content": "Hel"}}]})
    + sse({"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": None}]})
    + sse(FINISH) + sse(USAGE) + DONE,
    "null-finish-then-missing": sse({"choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]})
    + sse({"choices": [{"index": 0, "delta": {"content": "lo"}}], "usage": None}) + sse(FINISH) + sse(USAGE) + DONE,
    "named-events": PLAIN.replace(b"data: ", b"event: message\ndata: ") + DONE,
    "finish-null-as-a-string": PLAIN.replace(b'{"content": "Hel"}}', b'{"content": "Hel"}, "finish_reason": "null"}')
    + DONE,
    "one-newline-between-events": PLAIN.replace(b"}\n\ndata: ", b"}\ndata: ") + DONE,
    "never-a-blank-line": PLAIN.replace(b"\n\n", b"\n") + b"data: [DONE]\n",
    "last-token-and-usage-on-the-finish": sse(token("Hel")) + sse(
        {"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}], "usage": USAGE["usage"]}),
    "index-null": PLAIN.replace(b'"index": 0', b'"index": null') + DONE,
    "index-as-a-string": PLAIN.replace(b'"index": 0', b'"index": "0"') + DONE,
    "usage-inside-the-choice": sse(token("Hel")) + sse(token("lo")) + sse(  # Moonshot's last chunk
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "usage": USAGE["usage"]}]}) + DONE,
    "zero-usage-placeholders": b"".join(sse({**token(t), "usage": {"prompt_tokens": 0, "completion_tokens": 0,
                                                                   "total_tokens": 0}}) for t in ["Hel", "lo"])
    + sse(FINISH) + sse(USAGE) + DONE,
}


@pytest.mark.parametrize("body", list(SSE_VARIANTS.values()), ids=list(SSE_VARIANTS))
@pytest.mark.parametrize("coalesce_s", [0.0, 0.01], ids=["per-event", "relay"])
async def test_sse_variants_give_the_whole_reply(body: bytes, coalesce_s: float) -> None:
    events = await events_of(body, coalesce_s=coalesce_s)
    assert text_of(events) == "Hello" and finishes(events) == ["stop"]
    assert isinstance(events[-1], Usage) and events[-1].raw["completion_tokens"] == 3


DELTAS = {
    "content-as-strings": [{"content": ["Hel"]}, {"content": ["l", "o"]}],
    "content-as-parts": [{"content": [{"type": "text", "text": "Hel"}]}, {"content": [{"type": "output_text",
                                                                                        "text": "lo"}]}],
    "message-not-delta": "message",
}


@pytest.mark.parametrize("deltas", list(DELTAS.values()), ids=list(DELTAS))
@pytest.mark.parametrize("coalesce_s", [0.0, 0.01], ids=["per-event", "relay"])
async def test_answer_text_in_other_shapes_of_chunk_is_the_answer(deltas: object, coalesce_s: float) -> None:
    """Content as a list of strings or parts, or a chunk's text under `message` (no `delta`) as some proxies send."""
    if deltas == "message":
        chunks = [{"choices": [{"index": 0, "message": {"role": "assistant", "content": t}}]} for t in ("Hel", "lo")]
    else:
        chunks = [{"choices": [{"index": 0, "delta": d}]} for d in deltas]  # type: ignore[attr-defined]
    body = b"".join(sse(c) for c in chunks) + sse(FINISH) + sse(USAGE) + DONE
    events = await events_of(body, coalesce_s=coalesce_s)
    assert text_of(events) == "Hello" and finishes(events) == ["stop"] and isinstance(events[-1], Usage)


REASONING = {
    "reasoning_content": [{"reasoning_content": "Let me"}, {"reasoning_content": " think"}],
    "reasoning": [{"reasoning": "Let me"}, {"reasoning": " think"}],
    "reasoning_details-only": [{"reasoning_details": [{"type": "reasoning.text", "text": "Let me", "index": 0}]},
                               {"reasoning_details": [{"type": "reasoning.summary", "summary": " think"}]}],
    "reasoning-and-details": [
        {"reasoning": "Let me", "reasoning_details": [{"type": "reasoning.text", "text": "Let me"}]},
        {"reasoning": " think", "reasoning_details": [{"type": "reasoning.text", "text": " think"}]}],
    "encrypted-details": [{"reasoning_details": [{"type": "reasoning.encrypted", "data": "abc=="}]},
                          {"reasoning_content": "Let me think"}],
}


@pytest.mark.parametrize("deltas", list(REASONING.values()), ids=list(REASONING))
@pytest.mark.parametrize("coalesce_s", [0.0, 0.01], ids=["per-event", "relay"])
async def test_every_reasoning_field_is_read_once(deltas: list[dict[str, object]], coalesce_s: float) -> None:
    body = b"".join(sse({"choices": [{"index": 0, "delta": d}]}) for d in deltas) + PLAIN + DONE
    events = await events_of(body, coalesce_s=coalesce_s)
    assert reasoning_of(events) == "Let me think" and text_of(events) == "Hello"


@pytest.mark.parametrize(("sent", "read"), [
    ("stop", "stop"), ("length", "length"), ("content_filter", "content_filter"), ("tool_calls", "stop"),
    ("end_turn", "stop"), ("eos", "stop"), ("STOP", "stop"), ("max_tokens", "length"), ("MAX_TOKENS", "length"),
    ("SAFETY", "content_filter"), ("function_call", "stop"), ("some_new_reason_nobody_documented", "stop"),
])
async def test_finish_reasons_are_read_as_the_protocols_three(sent: str, read: str) -> None:
    finish = {"choices": [{"index": 0, "delta": {}, "finish_reason": sent}]}
    body = sse(token("Hello")) + sse(finish) + sse(USAGE) + DONE
    assert finishes(await events_of(body)) == [read]


async def test_a_finish_reason_of_error_is_the_gateways_error() -> None:
    finish = {"choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]}
    body = sse(token("Hel")) + sse(finish) + DONE
    seen: list[object] = []
    async with gateway(lambda n: [CHUNKED_HEAD, *chunked([body])]) as (_, endpoint), UpstreamClient() as client:
        with pytest.raises(UpstreamError) as raised:
            async for event in client.stream(endpoint, REQUEST):
                seen.append(event)
    assert raised.value.code == "upstream_unavailable" and text_of(seen) == "Hel"


JSON_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
COMPLETION = {"id": "c", "object": "chat.completion", "model": "grok-4-fast-non-reasoning",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello", "reasoning_content": "Hm"},
                           "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}


@pytest.mark.parametrize("head", [JSON_HEAD, CHUNKED_HEAD.replace(b"text/event-stream", b"application/json"),
                                  CHUNKED_HEAD], ids=["json-length", "json-chunked", "labelled-sse"])
async def test_a_gateway_that_ignores_stream_true_still_gives_the_whole_reply(head: bytes) -> None:
    body = json.dumps(COMPLETION, indent=2).encode()
    writes = [head % len(body) + body] if b"Length" in head else [head, *chunked([body[:20], body[20:]])]
    for coalesce_s in (0.0, 0.01):
        async with gateway(lambda n: writes) as (gw, endpoint), UpstreamClient() as client:
            events = await reply(client, endpoint, coalesce_s=coalesce_s)
            assert text_of(events) == "Hello" and reasoning_of(events) == "Hm" and finishes(events) == ["stop"]
            assert isinstance(events[-1], Usage) and events[-1].raw["prompt_tokens"] == 5
            assert len(gw.requests) == 1


@pytest.mark.parametrize(("body", "code", "says"), [
    ({"error": {"message": "Content violates usage guidelines. SAFETY_CHECK_TYPE_BIO", "code": 403}},
     "content_blocked", "usage guidelines"),
    ({"code": "Client specified an invalid argument", "error": "Incorrect API key provided: xai-abcdef123456"},
     "upstream_auth", "Incorrect API key"),
    ({"error": "Rate limit exceeded"}, "upstream_rate_limited", "Rate limit exceeded"),
    ({"detail": "Not Found"}, "upstream_unavailable", "Not Found"),
    ({"object": "chat.completion", "id": "x"}, "upstream_unavailable", "neither a chat completion nor an error"),
    ([{"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}],
     "upstream_unavailable", "overloaded"),
])
async def test_an_error_answered_with_200_is_the_gateways_error(body: object, code: str, says: str) -> None:
    raw = json.dumps(body).encode()
    async with gateway(lambda n: [JSON_HEAD % len(raw) + raw]) as (gw, endpoint), UpstreamClient() as client:
        with pytest.raises(UpstreamError) as raised:
            await reply(client, endpoint)
    assert raised.value.code == code and says in raised.value.detail
    assert "xai-abcdef123456" not in raised.value.detail


def error_answer(status: int, body: bytes, headers: bytes = b"", kind: bytes = b"application/json") -> bytes:
    head = b"HTTP/1.1 %d Whatever\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n"
    return head % (status, kind, len(body), headers) + body


ERRORS = {
    "xai-shape": (400, json.dumps({"code": "Client specified an invalid argument",
                                   "error": "Incorrect API key provided: xai-abcdef123456"}).encode(), b"",
                  "upstream_auth", "Incorrect API key", None),
    "plain-text": (503, b"upstream connect error or disconnect/reset before headers", b"", "upstream_unavailable",
                   "upstream connect error", None),
    "error-string": (404, b'{"error": "model not found: grok-9"}', b"", "model_unavailable", "model not found", None),
    "detail-string": (401, b'{"detail": "Not authenticated"}', b"", "upstream_auth", "Not authenticated", None),
    "detail-list": (422, json.dumps({"detail": [{"loc": ["body", "messages"], "msg": "field required",
                                                 "type": "value_error.missing"}]}).encode(), b"", "bad_request",
                    "field required", None),
    "openrouter-metadata": (429, json.dumps({"error": {"message": "Provider returned error", "code": 429, "metadata": {
        "raw": "grok-4 is temporarily rate-limited upstream", "provider_name": "xAI"}}}).encode(), b"",
        "upstream_rate_limited", "temporarily rate-limited upstream", None),
    "errors-list": (400, b'{"errors": [{"code": 10000, "message": "Authentication error"}], "success": false}', b"",
                    "upstream_auth", "Authentication error", None),
    "retry-after-seconds": (429, b'{"error": {"message": "Too many requests"}}', b"Retry-After: 7\r\n",
                            "upstream_rate_limited", "Too many requests", 7.0),
    "retry-after-date": (429, b'{"error": {"message": "Too many requests"}}',
                         b"Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n", "upstream_rate_limited", "Too many", 0.0),
    "retry-after-ms": (429, b'{"error": {"message": "Too many requests"}}',
                       b"retry-after-ms: 1500\r\nRetry-After: 2\r\n",
                       "upstream_rate_limited", "Too many", 1.5),
    "x-ratelimit-reset": (429, b'{"error": {"message": "Rate limit reached for requests", "type": "requests"}}',
                          b"x-ratelimit-remaining-requests: 0\r\nx-ratelimit-reset-requests: 1m30s\r\n"
                          b"x-ratelimit-reset-tokens: 250ms\r\n", "upstream_rate_limited", "Rate limit", 0.25),
    "413": (413, b"<html><body>413 Request Entity Too Large</body></html>", b"", "context_too_long", "413", None),
    "403-policy": (403, json.dumps({"code": "The caller does not have permission to execute the specified operation",
                                    "error": "Content violates usage guidelines. Failed check: SAFETY_CHECK_TYPE_BIO"}
                                   ).encode(), b"", "content_blocked", "usage guidelines", None),
    "403-credits": (403, b'{"error": {"message": "Insufficient credits. Add more using https://openrouter.ai/credits"}}',
                    b"", "upstream_forbidden", "Insufficient credits", None),
    "403-wrong-key": (403, b'{"error": {"message": "Invalid API key provided", "type": "authentication_error"}}', b"",
                      "upstream_auth", "Invalid API key", None),
    "403-key-without-credits": (403, b'{"error": "This API key has no credits left"}', b"", "upstream_forbidden",
                                "no credits", None),
    "401-www-authenticate-only": (401, b"", b'WWW-Authenticate: Bearer realm="api", error="invalid_token", '
                                  b'error_description="The access token expired"\r\n', "upstream_auth",
                                  "The access token expired", None),
    "404-openai-model-not-found": (404, json.dumps({"error": {
        "message": "The model `grok-9` does not exist or you do not have access to it.",
        "type": "invalid_request_error", "param": None, "code": "model_not_found"}}).encode(), b"",
        "model_unavailable", "`grok-9` does not exist", None),
    "400-not-a-valid-model": (400, b'{"error": {"message": "grok-9 is not a valid model ID", "code": 400}}', b"",
                              "model_unavailable", "not a valid model ID", None),
    "503-no-channel-for-the-model": (503, json.dumps({"error": {
        "message": "No available channel for model grok-9 under group default (request id: 2026113)",
        "type": "new_api_error", "code": "model_not_found"}}).encode(), b"", "model_unavailable",
        "No available channel for model grok-9", None),
    "404-bare": (404, b"Not Found", b"", "model_unavailable", "base URL", None),
    "522-cloudflare-page": (522, b"<!DOCTYPE html>\n<html><head><title>api.gw.test | 522: Connection timed out</title>"
                            b"<style>body{margin:0}</style></head><body><h1>Connection timed out</h1></body></html>",
                            b"", "upstream_unavailable", "api.gw.test | 522: Connection timed out", None),
    "529-overloaded": (529, b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}',
                       b"Retry-After: 3\r\n", "upstream_unavailable", "Overloaded", 3.0),
}


@pytest.mark.parametrize(("status", "body", "headers", "code", "says", "wait"), list(ERRORS.values()), ids=list(ERRORS))
async def test_error_answers_of_every_shape_are_classified_with_their_message(status, body, headers, code, says,
                                                                               wait) -> None:
    kind = b"text/html" if body.startswith((b"<html>", b"<!DOCTYPE")) else b"application/json"
    async with gateway(lambda n: [error_answer(status, body, headers, kind)]) as (gw, endpoint):
        async with UpstreamClient() as client:
            for call in (reply(client, endpoint), client.complete(endpoint, REQUEST)):
                with pytest.raises(UpstreamError) as raised:
                    await call
                assert (raised.value.code, raised.value.status) == (code, status)
                assert says in raised.value.detail and "xai-abcdef123456" not in raised.value.detail
                assert "<" not in raised.value.detail  # an HTML page's words, not its markup
                assert raised.value.retry_after == wait


MODEL_LISTS = {
    "openai": {"object": "list", "data": [{"id": "grok-4", "object": "model", "created": 1, "owned_by": "xai"},
                                          {"id": "grok-3-mini", "object": "model"}]},
    "bare-list": [{"id": "grok-4"}, {"id": "grok-3-mini", "owned_by": "xai", "pricing": {"prompt": "0.0000003"}}],
    "ids-as-strings": {"data": ["grok-4", "grok-3-mini"]},
    "xai-language-models": {"models": [{"id": "grok-4", "prompt_text_token_price": 30000},
                                       {"id": "grok-3-mini", "aliases": []}]},
    "names-not-ids": {"data": [{"name": "grok-4", "display_name": "Grok 4"}, {"model": "grok-3-mini"}]},
}


@pytest.mark.parametrize("listing", list(MODEL_LISTS.values()), ids=list(MODEL_LISTS))
async def test_model_lists_of_every_shape_give_their_ids(listing: object) -> None:
    body = json.dumps(listing).encode()
    async with gateway(lambda n: [JSON_HEAD % len(body) + body]) as (_, endpoint), UpstreamClient() as client:
        assert await client.list_models(endpoint) == ["grok-4", "grok-3-mini"]


async def test_items_without_an_id_and_pagination_fields_leave_the_ids() -> None:
    listing = {"object": "list", "data": [{"id": "grok-4", "object": "model"}, {"object": "model", "created": 1},
                                          {"id": None}, {"id": ""}, {"id": "grok-3-mini"}],
               "has_more": False, "first_id": "grok-4", "last_id": "grok-3-mini"}
    body = json.dumps(listing).encode()
    async with gateway(lambda n: [JSON_HEAD % len(body) + body]) as (_, endpoint), UpstreamClient() as client:
        assert await client.list_models(endpoint) == ["grok-4", "grok-3-mini"]


def _page(ids: list[str], more: bool) -> bytes:
    body = json.dumps({"object": "list", "data": [{"id": i} for i in ids], "has_more": more,
                       "first_id": ids[0], "last_id": ids[-1]}).encode()
    return JSON_HEAD % len(body) + body


async def test_a_model_list_in_pages_is_read_to_its_last_page() -> None:
    """Read as the first page alone, every model on a later page would be withdrawn (gateways.discovery)."""
    pages = [_page(["grok-4", "grok-4-fast"], True), _page(["grok-3-mini"], True), _page(["grok-code-fast-1"], False)]
    async with gateway(lambda n: [pages[n]]) as (gw, endpoint), UpstreamClient() as client:
        assert await client.list_models(endpoint) == ["grok-4", "grok-4-fast", "grok-3-mini", "grok-code-fast-1"]
    assert b"after=grok-4-fast" in gw.requests[1].split(b"\r\n")[0]
    assert b"after=grok-3-mini" in gw.requests[2].split(b"\r\n")[0]


async def test_a_list_that_says_it_has_more_but_repeats_its_page_is_an_error_not_a_partial_list() -> None:
    async with gateway(lambda n: [_page(["grok-4"], True)]) as (gw, endpoint), UpstreamClient() as client:
        with pytest.raises(UpstreamError) as raised:
            await client.list_models(endpoint)
    assert raised.value.code == "upstream_unavailable" and "page" in raised.value.detail and len(gw.requests) == 2


@pytest.mark.parametrize("listing", [{"object": "list"}, {"message": "ok"}, "grok-4", 12], ids=str)
async def test_a_model_list_that_cannot_be_read_is_an_error_not_an_empty_list(listing: object) -> None:
    """An empty list withdraws every model of the provider (gateways.discovery): only a list that says so may."""
    body = json.dumps(listing).encode()
    async with gateway(lambda n: [JSON_HEAD % len(body) + body]) as (_, endpoint), UpstreamClient() as client:
        with pytest.raises(UpstreamError) as raised:
            await client.list_models(endpoint)
    assert raised.value.code == "upstream_unavailable"


@pytest.mark.parametrize(("usage", "expected"), [
    ({"prompt_tokens": 165.0, "completion_tokens": 2.0, "total_tokens": 296.0,
      "completion_tokens_details": {"reasoning_tokens": 129.0}, "prompt_tokens_details": {"cached_tokens": 164.0},
      "num_sources_used": 0, "cost_in_usd_ticks": 739000.0}, (165, 164, 2, 129, 296, 739000)),
    ({"prompt_tokens": "165", "completion_tokens": "2.0", "total_tokens": "296",
      "completion_tokens_details": {"reasoning_tokens": "129"}, "prompt_tokens_details": {"cached_tokens": "164"},
      "cost": "0.0000739"}, (165, 164, 2, 129, 296, 739000)),
    ({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "cost": 0.5,
      "prompt_tokens_details": None, "completion_tokens_details": None, "is_byok": False},
     (10, 0, 5, 0, 15, 5_000_000_000)),
    ({"prompt_tokens": 1e300, "completion_tokens": "Infinity", "total_tokens": "NaN", "cost": "lots"},
     (100_000_000, 0, 0, 0, 100_000_000, None)),
])
async def test_usage_numbers_as_floats_strings_and_nonsense_normalize(usage, expected) -> None:
    from gateways.wire.usage import normalize

    events = await events_of(sse(token("Hello")) + sse(FINISH) + sse({"choices": [], "usage": usage}) + DONE)
    read = next(e for e in events if isinstance(e, Usage))
    got = normalize(read.raw, read.meta)
    assert (got.prompt, got.cached, got.visible_output, got.reasoning, got.total, got.stated_cost_ticks) == expected


async def test_a_gateway_that_streams_a_request_that_did_not_ask_to_is_still_read_whole() -> None:
    """Titles and 'Test connection' ask with `stream: false`; some gateways stream every answer anyway."""
    for body in (b": OPENROUTER PROCESSING\n\n" + PLAIN + DONE, PLAIN.replace(b"\n\n", b"\n")):
        async with gateway(lambda n, body=body: [CHUNKED_HEAD, *chunked([body])]) as (_, endpoint):
            async with UpstreamClient() as client:
                events = await client.complete(endpoint, REQUEST)
        assert text_of(events) == "Hello" and finishes(events) == ["stop"] and isinstance(events[-1], Usage)


async def test_a_whole_answer_without_a_finish_reason_is_whole() -> None:
    body = json.dumps({"choices": [{"message": {"content": "Hello"}}], "usage": USAGE["usage"]}).encode()
    async with gateway(lambda n: [JSON_HEAD % len(body) + body]) as (_, endpoint), UpstreamClient() as client:
        for events in (await client.complete(endpoint, REQUEST), await reply(client, endpoint)):
            assert text_of(events) == "Hello" and finishes(events) == ["stop"] and isinstance(events[-1], Usage)


@pytest.mark.parametrize(("kind", "text", "code"), [
    (b"text/plain", b"Internal Server Error", "upstream_unavailable"),
    (b"text/event-stream", b"Rate limit exceeded, please slow down.\n", "upstream_rate_limited"),
    (b"text/plain; charset=utf-8", b"\xef\xbb\xbfInsufficient balance: top up your account", "upstream_forbidden"),
])
async def test_a_plain_text_answered_with_200_is_the_gateways_error_billed_nothing(kind, text, code) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n" % (kind, len(text))
    async with gateway(lambda n: [head + text]) as (_, endpoint), UpstreamClient() as client:
        with pytest.raises(UpstreamError) as raised:
            await reply(client, endpoint)
    said = text.decode().lstrip("\ufeff").strip()
    assert raised.value.code == code and said in raised.value.detail and raised.value.status == 200


@pytest.mark.parametrize("body", [b": keep-alive\n\n: keep-alive\n\n", b"data: {\"choices\": [", b"event: ping\n\n"],
                         ids=["comments-only", "cut-event", "named-empty"])
async def test_a_stream_that_ends_early_is_still_a_cut_stream(body: bytes) -> None:
    async with gateway(lambda n: [CHUNKED_HEAD, *chunked([body])]) as (_, endpoint), UpstreamClient() as client:
        with pytest.raises(UpstreamError) as raised:
            await reply(client, endpoint)
    assert raised.value.code == "upstream_unavailable" and "closed before the reply was finished" in raised.value.detail


async def test_sse_labelled_as_json_is_read_as_the_stream_it_is() -> None:
    events = await events_of(PLAIN + DONE, head=CHUNKED_HEAD.replace(b"text/event-stream", b"application/json"))
    assert text_of(events) == "Hello" and finishes(events) == ["stop"] and isinstance(events[-1], Usage)


async def test_usage_in_the_responses_apis_names_is_billed() -> None:
    from gateways.wire.usage import normalize

    usage = {"input_tokens": 40, "output_tokens": 30, "total_tokens": 70,
             "input_tokens_details": {"cached_tokens": 8}, "output_tokens_details": {"reasoning_tokens": 20}}
    events = await events_of(sse(token("Hello")) + sse(FINISH) + sse({"choices": [], "usage": usage}) + DONE)
    read = normalize(next(e for e in events if isinstance(e, Usage)).raw)
    assert (read.prompt, read.cached, read.visible_output, read.reasoning, read.convention) == (40, 8, 10, 20, "B")


async def test_a_usage_that_counts_nothing_is_no_usage_so_the_reply_is_estimated_not_free() -> None:
    zero = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    body = sse({**token("Hello"), "usage": zero}) + sse(FINISH) + sse({"choices": [], "usage": zero}) + sse(
        {"choices": [], "usage": {"requests": 1}}) + DONE
    events = await events_of(body)
    assert text_of(events) == "Hello" and not [e for e in events if isinstance(e, Usage)]


@pytest.mark.parametrize("done", [b"data: [DONE] \n\n", b"data:  [DONE]\n\n", b"data: [DONE]\t\r\n\r\n"],
                         ids=["trailing-space", "leading-space", "tab-crlf"])
@pytest.mark.parametrize("coalesce_s", [0.0, 0.01], ids=["per-event", "relay"])
async def test_a_done_with_whitespace_ends_the_reply_as_done_does(done: bytes, coalesce_s: float) -> None:
    """No finish_reason: only [DONE] says the reply is whole (read as a cut stream, it was an error)."""
    body = sse(token("Hel")) + sse(token("lo")) + sse(USAGE) + done
    events = await events_of(body, coalesce_s=coalesce_s)
    assert text_of(events) == "Hello" and isinstance(events[-1], Usage)


@pytest.mark.parametrize("done", [b"data: [DONE] \n\n", b"data: [DONE]\n\n", b"event: done\ndata:  [DONE]\r\n\r\n"],
                         ids=["trailing-space", "exact", "named-crlf"])
@pytest.mark.parametrize("coalesce_s", [0.0, 0.01], ids=["per-event", "relay"])
async def test_what_follows_done_in_the_same_read_is_not_the_reply(done: bytes, coalesce_s: float) -> None:
    """[DONE], however spaced, ends the reply where it stands, whatever the same read holds after it."""
    body = sse(token("Hel")) + sse(token("lo")) + sse(USAGE) + done + sse(token(" and more")) + sse(
        {"error": {"message": "after the end"}})
    events = await events_of(body, coalesce_s=coalesce_s)
    assert text_of(events) == "Hello" and isinstance(events[-1], Usage)


@pytest.mark.parametrize("coalesce_s", [0.0, 0.01], ids=["per-event", "relay"])
async def test_a_done_the_body_ends_on_without_a_newline_ends_the_reply_whole(coalesce_s: float) -> None:
    body = sse(token("Hel")) + sse(token("lo")) + sse(USAGE) + b"data: [DONE]"
    events = await events_of(body, coalesce_s=coalesce_s)
    assert text_of(events) == "Hello" and isinstance(events[-1], Usage)


@pytest.mark.parametrize("apart", [False, True], ids=["same-read", "a-later-read"])
@pytest.mark.parametrize("coalesce_s", [0.0, 0.01], ids=["per-event", "relay"])
async def test_usage_sent_after_done_is_the_replys_usage(apart: bool, coalesce_s: float) -> None:
    """A gateway that counts once the stream is closed: estimated, the reply was billed by a guess."""
    head = sse(token("Hel")) + sse(token("lo")) + sse(FINISH) + DONE
    pieces = [head, sse(USAGE)] if apart else [head + sse(USAGE)]
    async with gateway(lambda n: [CHUNKED_HEAD, *chunked(pieces)]) as (_, endpoint), UpstreamClient() as client:
        events = await reply(client, endpoint, coalesce_s=coalesce_s)
    assert text_of(events) == "Hello" and finishes(events) == ["stop"]
    assert isinstance(events[-1], Usage) and events[-1].raw["completion_tokens"] == 3


REFUSAL = [{"role": "assistant", "content": None, "refusal": ""}, {"refusal": "I'm sorry,"},
           {"refusal": " I can't help with that."}]


@pytest.mark.parametrize("coalesce_s", [0.0, 0.01], ids=["per-event", "relay"])
async def test_a_refusal_is_the_replys_text_with_the_gateways_finish(coalesce_s: float) -> None:
    """OpenAI's `refusal` is what the model answered: the user must see it (docs/operations.md)."""
    body = b"".join(sse({"choices": [{"index": 0, "delta": d}]}) for d in REFUSAL) + sse(FINISH) + sse(USAGE) + DONE
    events = await events_of(body, coalesce_s=coalesce_s)
    assert text_of(events) == "I'm sorry, I can't help with that." and finishes(events) == ["stop"]


async def test_a_whole_answers_refusal_is_its_text() -> None:
    answer = {**COMPLETION, "choices": [{"index": 0, "message": {"role": "assistant", "content": None,
                                                                 "refusal": "I'm sorry."}, "finish_reason": "stop"}]}
    body = json.dumps(answer).encode()
    async with gateway(lambda n: [JSON_HEAD % len(body) + body]) as (_, endpoint), UpstreamClient() as client:
        for events in (await client.complete(endpoint, REQUEST), await reply(client, endpoint)):
            assert text_of(events) == "I'm sorry." and finishes(events) == ["stop"]


@pytest.mark.parametrize("coalesce_s", [0.0, 0.01], ids=["per-event", "relay"])
async def test_completions_style_text_chunks_are_the_answer(coalesce_s: float) -> None:
    texts = [{"index": 0, "text": "Hel", "finish_reason": None}, {"index": 0, "text": "lo", "logprobs": None},
             {"index": 0, "text": "", "finish_reason": "stop"}]
    body = b"".join(sse({"object": "text_completion", "choices": [c]}) for c in texts) + sse(USAGE) + DONE
    events = await events_of(body, coalesce_s=coalesce_s)
    assert text_of(events) == "Hello" and finishes(events) == ["stop"] and isinstance(events[-1], Usage)


async def test_a_whole_completions_style_answer_is_its_text() -> None:
    answer = {**COMPLETION, "object": "text_completion",
              "choices": [{"index": 0, "text": "Hello", "finish_reason": "stop"}]}
    body = json.dumps(answer).encode()
    async with gateway(lambda n: [JSON_HEAD % len(body) + body]) as (_, endpoint), UpstreamClient() as client:
        for events in (await client.complete(endpoint, REQUEST), await reply(client, endpoint)):
            assert text_of(events) == "Hello" and finishes(events) == ["stop"] and isinstance(events[-1], Usage)


async def test_groqs_usage_under_x_groq_is_billed() -> None:
    groq = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "x_groq": {"id": "req_01", "usage": USAGE["usage"]}}
    events = await events_of(sse({**token("Hel"), "x_groq": {"id": "req_01"}}) + sse(token("lo")) + sse(groq) + DONE)
    assert text_of(events) == "Hello" and finishes(events) == ["stop"]
    assert isinstance(events[-1], Usage) and events[-1].raw["completion_tokens"] == 3


@pytest.mark.parametrize("coalesce_s", [0.0, 0.01], ids=["per-event", "relay"])
async def test_vllms_error_object_in_a_stream_is_the_gateways_error(coalesce_s: float) -> None:
    """vLLM writes its errors as `{"object": "error", "message", "type", "code"}`, with no `error` key: read as a
    chunk without choices, then [DONE], the reply ended complete with the text so far (or none)."""
    error = {"object": "error", "message": "This model's maximum context length is 8192 tokens", "type":
             "BadRequestError", "param": None, "code": 400}
    body = sse(token("Hel")) + sse(error) + DONE
    seen: list[object] = []
    async with gateway(lambda n: [CHUNKED_HEAD, *chunked([body])]) as (_, endpoint), UpstreamClient() as client:
        with pytest.raises(UpstreamError) as raised:
            async for event in client.stream(endpoint, REQUEST, coalesce_s=coalesce_s, join_text=coalesce_s > 0):
                seen.append(event)
    assert raised.value.code == "context_too_long" and "maximum context length" in raised.value.detail
    assert text_of(seen) == "Hel"


async def test_an_error_event_naming_an_unknown_model_is_model_unavailable() -> None:
    """In the gateway's own words: the admin is told the route's model id is wrong, not that the gateway is down."""
    body = sse({"error": {"message": "The model grok-9 does not exist", "type": "invalid_request_error",
                          "code": "model_not_found"}})
    async with gateway(lambda n: [CHUNKED_HEAD, *chunked([body])]) as (_, endpoint), UpstreamClient() as client:
        with pytest.raises(UpstreamError) as raised:
            await reply(client, endpoint)
    assert raised.value.code == "model_unavailable" and "grok-9 does not exist" in raised.value.detail


@pytest.mark.parametrize("coalesce_s", [0.0, 0.01], ids=["per-event", "relay"])
async def test_an_error_after_the_finish_leaves_the_reply_whole(coalesce_s: float, caplog) -> None:
    """The text is whole once its finish came: the gateway's later error is logged, the reply complete."""
    error = {"error": {"message": "Provider disconnected", "code": 502}}
    for tail in (sse(error) + DONE, sse(USAGE) + sse(error)):
        body = PLAIN.replace(sse(USAGE), tail)
        events = await events_of(body, coalesce_s=coalesce_s)
        assert text_of(events) == "Hello" and finishes(events) == ["stop"]
        async with gateway(lambda n, body=body: [CHUNKED_HEAD, *chunked([body])]) as (_, endpoint):
            async with UpstreamClient() as client:  # a stream answered to `stream: false` (titles)
                assert text_of(await client.complete(endpoint, REQUEST)) == "Hello"
    assert "Provider disconnected" in caplog.text


NDJSON = b"".join(json.dumps(c).encode() + b"\n" for c in [token("Hel"), token("lo"), FINISH, USAGE])


@pytest.mark.parametrize(("kind", "body"), [
    (b"application/x-ndjson", NDJSON), (b"application/jsonl", NDJSON.replace(b"\n", b"\r\n") + b"[DONE]\n"),
    (b"application/json", NDJSON), (b"text/plain", b"\n" + NDJSON.replace(b"\n", b"\n\n")),
], ids=["x-ndjson", "jsonl-crlf-done", "json", "blank-lines"])
@pytest.mark.parametrize("coalesce_s", [0.0, 0.01], ids=["per-event", "relay"])
async def test_a_stream_of_json_lines_without_data_is_read_as_the_stream_it_is(kind, body, coalesce_s) -> None:
    """Newline-delimited JSON (a chunk per line, no `data:`): some OpenAI-compatible servers stream so."""
    head = CHUNKED_HEAD.replace(b"text/event-stream", kind)
    lines = body.split(b"\n")
    for pieces in ([body], [line + b"\n" for line in lines[:-1]] + [lines[-1]]):  # together, then a line a write
        async with gateway(lambda n, p=pieces: [head, *chunked(p)]) as (gw, endpoint), UpstreamClient() as client:
            for events in (await reply(client, endpoint, coalesce_s=coalesce_s),
                           await client.complete(endpoint, REQUEST)):  # titles: streamed though not asked to
                assert text_of(events) == "Hello" and finishes(events) == ["stop"]
                assert isinstance(events[-1], Usage) and events[-1].raw["completion_tokens"] == 3


async def test_a_streamed_json_line_arrives_before_the_next_line_is_written() -> None:
    """Read as one JSON answer, the reply showed nothing until the gateway had written all of it."""
    shown = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0]))
        writer.write(CHUNKED_HEAD.replace(b"text/event-stream", b"application/x-ndjson")
                     + chunk(json.dumps(token("Hel")).encode() + b"\n"))
        await writer.drain()
        await shown.wait()  # the next line only once the first one's text was given
        writer.write(chunk(NDJSON) + b"0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server, UpstreamClient() as client:
        endpoint = Endpoint(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1", "k", max_retries=0,
                            first_token_timeout=5)
        seen: list[object] = []
        async for event in client.stream(endpoint, REQUEST):
            seen.append(event)
            shown.set()
    assert text_of(seen) == "HelHello" and finishes(seen) == ["stop"]


async def test_json_lines_that_are_no_chat_chunks_are_a_clear_error() -> None:
    """A server's own API (Ollama's /api/chat streams `{"message": {...}, "done": false}` lines) is not OpenAI's."""
    lines = [{"model": "grok", "message": {"role": "assistant", "content": "Hel"}, "done": False},
             {"model": "grok", "message": {"role": "assistant", "content": "lo"}, "done": True, "eval_count": 2}]
    body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    async with gateway(lambda n: [CHUNKED_HEAD.replace(b"text/event-stream", b"application/x-ndjson"),
                                  *chunked([body])]) as (_, endpoint), UpstreamClient() as client:
        with pytest.raises(UpstreamError) as raised:
            await reply(client, endpoint)
    assert raised.value.code == "upstream_unavailable" and "newline-delimited JSON" in raised.value.detail
    assert not raised.value.retryable

