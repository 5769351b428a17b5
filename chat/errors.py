"""PROTOCOL.md's error codes, and the exception services raise to refuse a request."""
from __future__ import annotations

from uuid import UUID

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


def as_uuid(value: object) -> UUID | None:
    """Parse a client-supplied id; None when it is not a UUID."""
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None
