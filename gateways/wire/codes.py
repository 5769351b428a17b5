"""PROTOCOL.md's error codes, and the refusal every layer raises with one.

They live at the bottom because the wire maps gateway failures onto them and every
app above (routes, admission, the chat) refuses requests with the same vocabulary.
"""
from __future__ import annotations

CODES = frozenset({
    "bad_request", "too_large", "not_found", "rate_limited", "budget_exceeded",
    "model_unavailable", "upstream_auth", "upstream_forbidden", "upstream_rate_limited",
    "upstream_unavailable", "content_blocked", "context_too_long", "timeout", "internal",
})

# Trying the same request again later may succeed.
RETRYABLE = frozenset({"rate_limited", "upstream_rate_limited", "upstream_unavailable", "timeout", "internal"})


def is_retryable(code: str) -> bool:
    return code in RETRYABLE


class ChatError(Exception):
    """A refusal a person should read: becomes an `error` frame or an HTTP 4xx."""

    def __init__(self, code: str, detail: str, **extra: object) -> None:
        assert code in CODES, code
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extra = extra
