"""Every refusal of the Team API as an HTTP status and OpenAI's error shape (docs/api.md, "Errors").

`code` is Grokweb's own error code (docs/protocol.md) where there is one, so the chat and
the API speak the same words; the few refusals only the API has get their own. 4xx answers
other than 429 carry `x-should-retry: false` (the official SDKs obey it): asking again
will not help. A used-up budget answers 402, not 429, because clients retry a 429 by
themselves and a monthly budget does not come back in a few seconds.
"""
from __future__ import annotations

import math
from typing import Any

from django.http import JsonResponse

from accounts.tokens import TokenRefused
from gateways.wire.codes import ChatError
from gateways.wire.errors import UpstreamError

from .parsing import BadRequest
from .shapes import error_body

TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "insufficient_quota",
         403: "permission_error", 404: "invalid_request_error", 405: "invalid_request_error",
         413: "invalid_request_error", 429: "rate_limit_error"}

# Refusals from admission and planning (ChatError codes) -> status.
_CHAT_STATUS = {
    "bad_request": 400, "too_large": 413, "not_found": 404, "rate_limited": 429, "budget_exceeded": 402,
    "model_unavailable": 503, "upstream_unavailable": 503, "upstream_auth": 502, "internal": 500,
}
# Upstream failures left after failover -> status.
_UPSTREAM_STATUS = {
    "bad_request": 400, "content_blocked": 400, "context_too_long": 400, "upstream_auth": 502,
    "upstream_forbidden": 502, "model_unavailable": 502, "upstream_unavailable": 502,
    "upstream_rate_limited": 503, "timeout": 504, "internal": 500,
}
_TOKEN_STATUS = {"invalid": 401, "revoked": 401, "expired": 401, "pending": 403, "disabled": 403}
_TOKEN_CODES = {"invalid": "invalid_api_key", "revoked": "token_revoked", "expired": "token_expired",
                "pending": "account_pending", "disabled": "account_disabled"}


class ApiError(Exception):
    """A refusal: its status, OpenAI's error object and the headers that go with it."""

    def __init__(self, status: int, message: str, code: str, *, param: str | None = None,
                 retry_after: float | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param
        self.retry_after = retry_after
        self.extra = extra

    @property
    def type(self) -> str:
        return TYPES.get(self.status, "server_error")

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, self.code, self.param, **self.extra)

    def headers(self) -> dict[str, str]:
        found = {}
        if self.retry_after is not None:
            found["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        if 400 <= self.status < 500 and self.status != 429:
            found["x-should-retry"] = "false"
        if self.status == 401:
            found["WWW-Authenticate"] = 'Bearer realm="grokweb"'
        return found

    def response(self) -> JsonResponse:
        return JsonResponse(self.body(), status=self.status, headers=self.headers())


def from_token(exc: TokenRefused) -> ApiError:
    return ApiError(_TOKEN_STATUS[exc.reason], exc.detail, _TOKEN_CODES[exc.reason])


def from_bad_request(exc: BadRequest) -> ApiError:
    return ApiError(400, exc.message, "bad_request", param=exc.param)


def from_chat(exc: ChatError) -> ApiError:
    """A refusal from admission (limits, budgets) or route planning."""
    extra: dict[str, Any] = {k: v for k, v in exc.extra.items() if k != "retry_after"}
    retry_after = exc.extra.get("retry_after")
    return ApiError(_CHAT_STATUS.get(exc.code, 400), exc.detail, exc.code,
                    retry_after=float(retry_after) if isinstance(retry_after, int | float) else None, **extra)


def from_upstream(exc: UpstreamError) -> ApiError:
    """What is left after failover. A model no route can serve right now (no HTTP status) is a 503."""
    status = _UPSTREAM_STATUS.get(exc.code, 502)
    if exc.code == "model_unavailable" and exc.status is None:
        status = 503
    retry_after = exc.retry_after if status == 503 else None
    if status == 503 and retry_after is None and exc.code == "upstream_rate_limited":
        retry_after = 1.0
    return ApiError(status, exc.detail, exc.code, retry_after=retry_after)


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"The request body is over {limit:,} bytes (API_MAX_BODY_BYTES).", "too_large")


def method_not_allowed(method: str) -> ApiError:
    return ApiError(405, f"Use {method} here.", "bad_request")


def budget_cut(detail: str) -> ApiError:
    """A streaming reply ended because its budget was used up (its text so far is billed)."""
    return ApiError(402, detail, "budget_exceeded")
