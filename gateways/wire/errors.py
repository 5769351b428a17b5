"""Upstream failures mapped to the protocol's error codes (PROTOCOL.md)."""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from .codes import is_retryable


class UpstreamError(Exception):
    """A failure talking to a gateway, already classified.

    `code` is one of PROTOCOL.md's error codes; `retryable` says whether trying
    again later (or on another route) may help; `retry_after` is seconds, when
    the gateway said so.
    """

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


# Classification: by status and message, never by provider (UPSTREAM.md, Errors).
# Pure functions: a status, a body and headers in, an UpstreamError out.

_KEY_PATTERNS = (
    re.compile(r"\b(xai|sk|sk-proj|aiml)-[A-Za-z0-9_\-*.]{4,}", re.IGNORECASE),
    re.compile(r"(api key provided:?\s*)\S+", re.IGNORECASE),
    re.compile(r"(Bearer\s+)\S+", re.IGNORECASE),
)
_CREDITS = re.compile(r"credit|balance|quota|billing|spending limit|exhausted|insufficient|payment", re.IGNORECASE)
_POLICY = re.compile(r"usage guidelines|content polic|violat|safety|moderation|SAFETY_CHECK", re.IGNORECASE)
_KEY = re.compile(r"api key|api-key|apikey|authenticat|unauthori[sz]ed|invalid token", re.IGNORECASE)
_CONTEXT = re.compile(r"context length|context window|too long|maximum prompt|too many tokens|max.*tokens.*exceed",
                      re.IGNORECASE)
_MAX_DETAIL = 300

_SUMMARY = {
    "upstream_auth": "The gateway did not accept the API key configured for this model.",
    "upstream_forbidden": "The gateway refused the request (often an exhausted balance or missing permission).",
    "content_blocked": "The gateway blocked this request under its content policy.",
    "model_unavailable": "The gateway does not offer this model to our key.",
    "upstream_rate_limited": "The gateway is rate limiting us; try again shortly.",
    "upstream_unavailable": "The gateway is having trouble right now; try again shortly.",
    "context_too_long": "The conversation is too long for this model.",
    "bad_request": "The gateway rejected the request.",
    "timeout": "The gateway took too long to answer.",
}


def mask_secrets(text: str) -> str:
    """Remove anything that looks like an API key before a message is stored or shown."""
    text = _KEY_PATTERNS[0].sub(lambda m: m.group(1) + "-…", text)
    text = _KEY_PATTERNS[1].sub(lambda m: m.group(1) + "[hidden]", text)
    return _KEY_PATTERNS[2].sub(lambda m: m.group(1) + "[hidden]", text)


def error_message(body: Any) -> str:
    """The human message in any of the three body shapes (xAI, OpenAI, AI/ML API)."""
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return body.strip()[:_MAX_DETAIL]
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or error.get("type") or "")
    if isinstance(error, str):
        return error
    return str(body.get("message") or body.get("detail") or body.get("code") or "")


def _status_in(body: Any) -> int | None:
    """A status written inside an error body (AI/ML API's statusCode, OpenAI's numeric code)."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    for value in (body.get("statusCode"), body.get("status"), error.get("code") if isinstance(error, dict) else None):
        try:
            status = int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if 400 <= status < 600:
            return status
    return None


def _code_for(status: int | None, message: str) -> str:
    if status == 401:
        return "upstream_auth"
    if status == 402:
        return "upstream_forbidden"  # payment required: no balance left
    if status == 403:
        return "content_blocked" if _POLICY.search(message) else "upstream_forbidden"
    if status == 404:
        return "model_unavailable"
    if status == 429:
        return "upstream_forbidden" if _CREDITS.search(message) else "upstream_rate_limited"
    if status == 408:
        return "timeout"
    if status == 413:
        return "context_too_long"
    if status is not None and 400 <= status < 500:
        if _KEY.search(message):
            return "upstream_auth"
        if _CONTEXT.search(message):
            return "context_too_long"
        return "bad_request"
    if status is not None and status >= 500:
        return "upstream_unavailable"
    # No status (an error inside a stream): read the message.
    for pattern, code in ((_POLICY, "content_blocked"), (_CREDITS, "upstream_forbidden"),
                          (_KEY, "upstream_auth"), (_CONTEXT, "context_too_long")):
        if pattern.search(message):
            return code
    if re.search(r"rate limit|too many requests", message, re.IGNORECASE):
        return "upstream_rate_limited"
    return "upstream_unavailable"


def _make(code: str, message: str, status: int | None, retry_after: float | None = None) -> UpstreamError:
    message = mask_secrets(" ".join(message.split()))[:_MAX_DETAIL]
    summary = _SUMMARY.get(code, "The gateway failed.")
    detail = f"{summary} The gateway said: {message}" if message else summary
    return UpstreamError(code, detail, retryable=is_retryable(code), status=status, retry_after=retry_after)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`Retry-After` as seconds (a number or an HTTP date), capped at ten minutes."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), 600.0)


def classify_http(status: int, body: Any, headers: Mapping[str, str] | None = None) -> UpstreamError:
    """An HTTP error answer (any of the three body shapes) as a protocol error."""
    message = error_message(body)
    retry_after = retry_after_seconds(headers or {}) if status in (429, 503) else None
    return _make(_code_for(status, message), message, status, retry_after)


def classify_stream_error(payload: dict[str, Any]) -> UpstreamError:
    """An `error` event inside a stream that began with HTTP 200."""
    message = error_message(payload)
    return _make(_code_for(_status_in(payload), message), message, _status_in(payload))


def connection_error(exc: BaseException) -> UpstreamError:
    return _make("upstream_unavailable", f"connection failed ({type(exc).__name__})", None)


def dropped_error() -> UpstreamError:
    return _make("upstream_unavailable", "the connection closed before the reply was finished", None)


def timeout_error(what: str, seconds: float) -> UpstreamError:
    return _make("timeout", f"no {what} within {seconds:g} s", None)


def redirect_error(status: int, location: str | None) -> UpstreamError:
    """A 3xx: redirects are not followed (the key would go wherever one points), so say where it pointed.

    Not retried: the same gateway would redirect again. Another route may still serve the reply.
    """
    where = mask_secrets(location or "nowhere")[:_MAX_DETAIL]
    return UpstreamError(
        "upstream_unavailable",
        f"The gateway redirected the request (HTTP {status}) to {where}; redirects are not followed: "
        "if that is the gateway's new address, set the provider's base URL to it.",
        retryable=False, status=status)


def coding_error(coding: str) -> UpstreamError:
    """A body in a content coding we did not ask for and cannot decode (br or zstd without their packages)."""
    return UpstreamError(
        "upstream_unavailable",
        f"The gateway answered in the content coding '{coding[:40]}', which was not asked for and cannot be read.",
        retryable=False)


def web_page_error(status: int) -> UpstreamError:
    """A 2xx web page where an API answer belongs: the base URL points at a site, not at the API."""
    return UpstreamError(
        "upstream_unavailable",
        f"The gateway answered with a web page (HTTP {status}, text/html), not an API answer: check the "
        "provider's base URL (it usually ends in /v1).",
        retryable=False, status=status)
