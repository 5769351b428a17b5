"""Every row of UPSTREAM.md's error table, in every body shape, and errors inside a stream."""
from __future__ import annotations

import json

import pytest

from gateways.wire.chunks import parse_data
from gateways.wire.errors import UpstreamError, classify_http, mask_secrets

XAI_KEY = {"code": "Client specified an invalid argument",
           "error": "Incorrect API key provided: xai-AbCdEf1234567890. You can obtain an API key from https://console.x.ai."}
AIML_401 = {"message": "This request requires a valid API key. Check it.", "path": "/v1/chat/completions",
            "requestId": "r1", "statusCode": "401", "timestamp": "2026-03-01T00:00:00Z"}
XAI_POLICY = {"code": "The caller does not have permission to execute the specified operation",
              "error": "Content violates usage guidelines. Team: t, Failed check: SAFETY_CHECK_TYPE_BIO"}
AIML_CREDITS = {"message": "You have run out of credits. Top up your balance.", "statusCode": "403"}
XAI_404 = {"code": "Some requested entity was not found",
           "error": "The model grok-beta does not exist or your team t does not have access to it."}
OPENAI_429 = {"error": {"message": "Rate limit reached for requests", "type": "rate_limit_exceeded",
                        "code": "rate_limit"}}
XAI_429_CREDITS = {"code": "Too many requests",
                   "error": "Your team has either used all available credits or reached its monthly spending limit."}
XAI_503 = {"code": "The service is currently unavailable", "error": "Timed out waiting for first token"}
CONTEXT = {"code": "Client specified an invalid argument",
           "error": "This model's maximum prompt length is 131072 but the request contains 200000 tokens."}
BAD_PARAM = {"code": "Client specified an invalid argument",
             "error": "Model grok-4 does not support parameter reasoningEffort."}

ROWS = [
    (400, XAI_KEY, "upstream_auth", False),
    (400, CONTEXT, "context_too_long", False),
    (400, BAD_PARAM, "bad_request", False),
    (401, AIML_401, "upstream_auth", False),
    (401, {"error": {"message": "Invalid token", "type": "invalid_request_error"}}, "upstream_auth", False),
    (403, XAI_POLICY, "content_blocked", False),
    (403, AIML_CREDITS, "upstream_forbidden", False),
    (404, XAI_404, "model_unavailable", False),
    (429, OPENAI_429, "upstream_rate_limited", True),
    (429, XAI_429_CREDITS, "upstream_forbidden", False),
    (500, {"error": {"message": "Internal", "type": "server_error"}}, "upstream_unavailable", True),
    (502, "<html>Bad gateway</html>", "upstream_unavailable", True),
    (503, XAI_503, "upstream_unavailable", True),
    (504, b"", "upstream_unavailable", True),
]


@pytest.mark.parametrize(("status", "body", "code", "retryable"), ROWS)
def test_http_errors_map_to_protocol_codes(status, body, code, retryable) -> None:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    error = classify_http(status, raw, {})
    assert (error.code, error.retryable, error.status) == (code, retryable, status)
    assert error.detail and "xai-AbCdEf" not in error.detail


def test_the_gateways_message_reaches_the_user_without_the_key() -> None:
    error = classify_http(400, json.dumps(XAI_KEY), {})
    assert "Incorrect API key provided" in error.detail and "1234567890" not in error.detail


def test_retry_after_is_read_in_seconds_and_as_a_date() -> None:
    assert classify_http(429, json.dumps(OPENAI_429), {"Retry-After": "7"}).retry_after == 7
    dated = classify_http(503, b"", {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert dated.retry_after == 0  # a date in the past means now


@pytest.mark.parametrize(("payload", "code"), [
    ({"error": "Content violates usage guidelines."}, "content_blocked"),
    ({"code": "Internal error", "error": "Stream interrupted"}, "upstream_unavailable"),
    ({"error": {"message": "Internal server error", "type": "server_error", "code": 500}}, "upstream_unavailable"),
    ({"error": {"message": "Rate limit exceeded", "code": 429}}, "upstream_rate_limited"),
    ({"error": {"message": "insufficient balance", "code": 402}}, "upstream_forbidden"),
    ({"error": {"message": "Your credit balance is too low"}}, "upstream_forbidden"),
])
def test_an_error_inside_a_stream_is_classified(payload, code) -> None:
    with pytest.raises(UpstreamError) as caught:
        parse_data(json.dumps(payload))
    assert caught.value.code == code and caught.value.detail


def test_mask_secrets_hides_keys_in_any_message() -> None:
    masked = mask_secrets("bad key sk-proj-ABCDEFGH12 and Bearer xyz123 and xai-QWERTY99")
    assert "ABCDEFGH12" not in masked and "xyz123" not in masked and "QWERTY99" not in masked
