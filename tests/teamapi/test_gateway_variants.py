"""The Team API over a gateway that strays from UPSTREAM.md: the SDK still gets a whole answer or a clear error.

The gateway is a small ASGI app on a loopback port answering every request with the same bytes.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import openai
import pytest

from tests.emulator_server import serving

pytestmark = pytest.mark.django_db(transaction=True)
MODEL = "grok-4-1-fast-non-reasoning"
COMPLETION = {"id": "c1", "object": "chat.completion", "created": 1, "model": "grok-4-1-fast-non-reasoning",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there."},
                           "finish_reason": "end_turn"}],
              "usage": {"prompt_tokens": 21, "completion_tokens": 3, "total_tokens": 24}}


def answering(status: int, body: bytes, kind: bytes = b"application/json") -> Callable[..., Any]:
    async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", kind)]})
        await send({"type": "http.response.body", "body": body})

    return app


@contextmanager
def provider_answering(status: int, body: bytes) -> Iterator[None]:
    from gateways import catalog, offering
    from gateways.models import Provider

    with serving(answering(status, body), "scripted-gateway") as url:
        provider = Provider(name="Scripted gateway", kind=Provider.Kind.OPENAI, base_url=f"{url}/v1", max_retries=0)
        provider.set_api_key("k")
        provider.save()
        offering.offer(provider, list(catalog.CATALOG))
        yield


def test_a_gateway_that_ignores_stream_true_still_streams_to_the_client_whole_and_billed(
        user, make_token, sdk, ledger_written) -> None:
    with provider_answering(200, json.dumps(COMPLETION).encode()):
        chunks = list(sdk(make_token(user)).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hi"}], stream=True,
            stream_options={"include_usage": True}))
        row = ledger_written()
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello there."
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].usage.prompt_tokens == 21 and chunks[-1].usage.completion_tokens == 3
    assert (row.outcome, row.prompt_tokens, row.estimated) == ("complete", 21, False)


def test_an_error_answered_with_200_reaches_the_client_as_the_error_it_is(user, make_token, sdk) -> None:
    refusal = {"code": "The caller does not have permission to execute the specified operation",
               "error": "Content violates usage guidelines. Failed check: SAFETY_CHECK_TYPE_BIO"}
    with provider_answering(200, json.dumps(refusal).encode()), pytest.raises(openai.BadRequestError) as raised:
        sdk(make_token(user)).chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}])
    assert raised.value.body["code"] == "content_blocked" and "usage guidelines" in raised.value.body["message"]


def test_an_error_event_after_the_finish_leaves_the_answer_whole(user, make_token, sdk, ledger_written) -> None:
    body = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in [
        {"choices": [{"index": 0, "delta": {"content": "Hello"}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {"error": {"message": "Provider disconnected", "code": 502}}])
    with provider_answering(200, body):
        chunks = list(sdk(make_token(user)).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hi"}], stream=True))
        answer = sdk(make_token(user)).chat.completions.create(model=MODEL,
                                                              messages=[{"role": "user", "content": "Hi"}])
        row = ledger_written()
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello"
    assert answer.choices[0].message.content == "Hello" and answer.choices[0].finish_reason == "stop"
    assert (row.outcome, row.estimated) == ("complete", True)


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
def test_an_error_event_before_anything_billable_is_billed_nothing(user, make_token, sdk, ledger_written,
                                                                    stream) -> None:
    """The gateway's own error before any token or usage is its refusal: a row with nothing billed, as for a 503."""
    body = (b": keep-alive\n\n" + b"data: " + json.dumps({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}
                                                           ).encode() + b"\n\n"
            + b'data: {"error": {"message": "The service is overloaded, try again later"}}\n\n')
    with provider_answering(200, body), pytest.raises(openai.APIError) as raised:
        answer = sdk(make_token(user)).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hi"}], stream=stream)
        if stream:
            list(answer)
    row = ledger_written()
    assert "overloaded" in str(raised.value)
    assert (row.outcome, row.total_tokens, row.estimated) == ("error", 0, False)
