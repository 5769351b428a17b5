"""The Team API's pure parts: request checking, OpenAI's shapes, errors and their statuses."""
from __future__ import annotations

import json

import pytest

from gateways.wire.codes import ChatError
from gateways.wire.errors import UpstreamError
from gateways.wire.usage import normalize
from teamapi import errors, parsing, shapes


def body(**fields) -> bytes:  # type: ignore[no-untyped-def]
    return json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}).encode()


def test_a_request_becomes_what_goes_upstream() -> None:
    parsed = parsing.parse(body(
        messages=[{"role": "developer", "content": "Be brief", "name": "x"},
                  {"role": "user", "content": [{"type": "text", "text": "look"},
                                               {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
                  {"role": "assistant", "content": None}],
        stream=True, stream_options={"include_usage": True}, max_completion_tokens=10, max_tokens=99,
        temperature=0, stop="END", user="someone", reasoning_effort="low"))
    assert parsed.messages == [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": [{"type": "text", "text": "look"},
                                     {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
        {"role": "assistant", "content": ""}]
    assert parsed.params == {"temperature": 0, "max_tokens": 10, "stop": ["END"], "reasoning_effort": "low"}
    assert (parsed.stream, parsed.include_usage, parsed.prompt_chars, parsed.images) == (True, True, 12, 1)
    assert parsing.parse(body(stream_options={"include_usage": True})).include_usage is False  # not streamed


@pytest.mark.parametrize("raw, param", [
    (b"{", None), (b"[]", None), (body(tools=[{"type": "function"}]), "tools"),
    (body(model=""), "model"), (body(messages=[]), "messages"), (body(messages=[{"role": "tool"}]),
                                                                  "messages[0].role"),
    (body(messages=[{"role": "user", "content": [{"type": "input_audio"}]}]), "messages[0].content[0]"),
    (body(messages=[{"role": "assistant", "content": [{"type": "image_url", "image_url": {"url": "https://x"}}]}]),
     "messages[0].content[0]"),
    (body(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "file:///etc"}}]}]),
     "messages[0].content[0].image_url.url"),
    (body(temperature="hot"), "temperature"), (body(top_p=1.5), "top_p"), (body(max_tokens=0), "max_tokens"),
    (body(max_tokens=True), "max_tokens"), (body(stream="yes"), "stream"), (body(reasoning_effort="max"),
                                                                            "reasoning_effort"),
    (body(stop=["a", "b", "c", "d", "e"]), "stop"), (body(logprobs=True), "logprobs"),
])
def test_bad_requests_say_which_field(raw: bytes, param: str | None) -> None:
    with pytest.raises(parsing.BadRequest) as refused:
        parsing.parse(raw)
    assert refused.value.param == param


def test_a_chunk_is_openais_shape_and_the_first_one_carries_the_role() -> None:
    chunks = shapes.Chunks("chatcmpl-1", "grok", created=7)
    first, second = chunks.content("Hel\"lo"), chunks.reasoning("hmm")
    assert first.startswith(b"data: ") and first.endswith(b"\n\n")
    assert json.loads(first[6:]) == {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 7,
                                     "model": "grok", "choices": [{"index": 0, "delta": {
                                         "role": "assistant", "content": "Hel\"lo"}, "logprobs": None,
                                         "finish_reason": None}]}
    assert json.loads(second[6:])["choices"][0]["delta"] == {"reasoning_content": "hmm"}
    assert json.loads(chunks.finish("stop")[6:])["choices"][0] == {"index": 0, "delta": {}, "logprobs": None,
                                                                   "finish_reason": "stop"}


def test_a_whole_completions_choice_has_openais_fields() -> None:
    """OpenAI's choice is {index, message, logprobs, finish_reason}; logprobs is null (we refuse asking for them)."""
    whole = shapes.completion("chatcmpl-1", "grok", "Hi", "", "stop", {}, created=7)
    assert whole["choices"] == [{"index": 0, "message": {"role": "assistant", "content": "Hi", "refusal": None},
                                 "logprobs": None, "finish_reason": "stop"}]


def test_usage_follows_openais_convention_whatever_the_gateways() -> None:
    raw = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 45,  # xAI: reasoning outside completion
           "completion_tokens_details": {"reasoning_tokens": 30},
           "prompt_tokens_details": {"cached_tokens": 4, "image_tokens": 2}}
    usage = shapes.usage_object(normalize(raw), 1234)
    assert usage == {"prompt_tokens": 10, "completion_tokens": 35, "total_tokens": 45,
                     "prompt_tokens_details": {"cached_tokens": 4, "image_tokens": 2},
                     "completion_tokens_details": {"reasoning_tokens": 30}, "cost_usd": "0.0000001234",
                     "estimated": False}


@pytest.mark.parametrize("exc, status, retry_after", [
    (UpstreamError("upstream_unavailable", "x", status=500), 502, None),
    (UpstreamError("model_unavailable", "no route"), 503, None),
    (UpstreamError("model_unavailable", "gateway 404", status=404), 502, None),
    (UpstreamError("upstream_rate_limited", "x", status=429, retry_after=7), 503, "7"),
    (UpstreamError("timeout", "x"), 504, None),
    (UpstreamError("context_too_long", "x", status=400), 400, None),
    (ChatError("rate_limited", "slow down", retry_after=12), 429, "12"),
    (ChatError("budget_exceeded", "used up", remaining_usd="0", remaining_tokens=None, budget="user"), 402, None),
    (ChatError("upstream_unavailable", "resting", retry_after=30), 503, "30"),
])
def test_errors_map_to_statuses_and_headers(exc: Exception, status: int, retry_after: str | None) -> None:
    mapped = errors.from_upstream(exc) if isinstance(exc, UpstreamError) else errors.from_chat(exc)  # type: ignore[arg-type]
    assert mapped.status == status and mapped.headers().get("Retry-After") == retry_after
    assert mapped.body()["error"]["code"] == exc.code  # type: ignore[attr-defined]
    assert ("x-should-retry" in mapped.headers()) == (400 <= status < 500 and status != 429)
    if status == 402:
        assert mapped.body()["error"]["budget"] == "user" and mapped.type == "insufficient_quota"
