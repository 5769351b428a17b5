"""Upstream failures mapped to the protocol's error codes (PROTOCOL.md)."""
from __future__ import annotations

import html
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
    the gateway said so. `status` is set when the gateway itself said it failed:
    its error status, or 200 for an error it wrote in a 200 answer (an error
    event, a JSON error, a plain text); None when it said nothing (no connection,
    a timeout, a cut stream). Before anything billable, such a failure is the
    gateway's refusal and is billed nothing (chat.generation, teamapi.relay).
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
_WRONG_KEY = re.compile(r"api[ _-]?key|invalid token|authenticat", re.IGNORECASE)
_CONTEXT = re.compile(r"context length|context window|too long|maximum prompt|too many tokens|max.*tokens.*exceed",
                      re.IGNORECASE)
# A model the gateway does not know, in its own words (OpenAI's `model_not_found`, OpenRouter's "not a valid
# model ID", one-api/new-api's "no available channel for model X", in English or Chinese).
_MODEL = re.compile(r"model_not_found|\bmodel\b.{0,80}?(?:does not exist|not found)|not a valid model|"
                    r"no available channel for model|unknown model|no such model|"
                    r"模型.{0,40}(?:不存在|无可用渠道)|无可用渠道", re.IGNORECASE)
# What an RFC 6750 `WWW-Authenticate: Bearer ...` challenge says, when the body says nothing.
_CHALLENGE = (re.compile(r'error_description="([^"]*)"'), re.compile(r'error="([^"]*)"'))
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
            return _page_words(body) if _PAGE.match(body.encode()[:200]) else body.strip()[:_MAX_DETAIL]
    if isinstance(body, list) and body:
        body = body[0]  # an error as a one-item list (Google's OpenAI-compatible endpoint)
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    if isinstance(error, dict):
        message = str(error.get("message") or error.get("code") or error.get("type") or "")
        raw = error.get("metadata", {}).get("raw") if isinstance(error.get("metadata"), dict) else None
        if isinstance(raw, str) and raw and raw not in message:  # OpenRouter: "Provider returned error", and why
            message = f"{message}: {raw}" if message else raw
        return message
    if isinstance(error, str):
        return error
    errors = body.get("errors")
    if isinstance(errors, list) and errors:  # Cloudflare-style `{"errors": [{"message": ...}]}`
        return "; ".join(error_message({"error": e}) if isinstance(e, dict) else str(e) for e in errors[:3])
    detail = body.get("detail")
    if isinstance(detail, list):  # FastAPI's validation errors: [{"loc": [...], "msg": "...", "type": "..."}]
        detail = "; ".join(str(d.get("msg") or d) if isinstance(d, dict) else str(d) for d in detail[:3])
    elif isinstance(detail, dict):
        detail = error_message(detail) or str(detail)
    return str(body.get("message") or detail or body.get("code") or "")


_PAGE = re.compile(rb"(?:\xef\xbb\xbf)?\s*(?:<!doctype\s+html|<html[\s>])", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_MARKUP = re.compile(r"<(script|style)\b.*?</\1>|<[^>]*>", re.IGNORECASE | re.DOTALL)


def _page_words(page: str) -> str:
    """An HTML error page (a proxy's, Cloudflare's 52x) in words: its title, else its text without markup."""
    title = _TITLE.search(page)
    text = title.group(1) if title and title.group(1).strip() else _MARKUP.sub(" ", page)
    return html.unescape(" ".join(text.split()))[:_MAX_DETAIL]


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


def _error_code(body: Any) -> str:
    """The machine-readable code an OpenAI-shaped error body names (`error.code`), if it is a string."""
    if isinstance(body, (bytes, bytearray, str)):
        try:
            body = json.loads(body)
        except ValueError:
            return ""
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else ""


def _code_for(status: int | None, message: str) -> str:
    if (status is None or status in (400, 404, 422) or status >= 500) and _MODEL.search(message):
        return "model_unavailable"  # whatever status the gateway chose for it: another route may have it
    if status == 401:
        return "upstream_auth"
    if status == 402:
        return "upstream_forbidden"  # payment required: no balance left
    if status == 403:
        if _POLICY.search(message):
            return "content_blocked"
        # Some gateways refuse a wrong key with 403, not 401; a 403 about credits or access stays forbidden.
        return "upstream_auth" if _WRONG_KEY.search(message) and not _CREDITS.search(message) else "upstream_forbidden"
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


# A 404 that names no model: the model may be unknown, or the base URL wrong (no such path on the gateway).
_NOT_FOUND = ("The gateway answered 404 (not found): it does not offer this model to our key, or the provider's "
              "base URL is wrong (it usually ends in /v1).")


def _make(code: str, message: str, status: int | None, retry_after: float | None = None,
          summary: str | None = None) -> UpstreamError:
    message = mask_secrets(" ".join(message.split()))[:_MAX_DETAIL]
    summary = summary or _SUMMARY.get(code, "The gateway failed.")
    detail = f"{summary} The gateway said: {message}" if message else summary
    return UpstreamError(code, detail, retryable=is_retryable(code), status=status, retry_after=retry_after)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """How long the gateway asks us to wait, in seconds, capped at ten minutes.

    `retry-after-ms` (OpenAI's, more precise) first, then `Retry-After` (a number or an HTTP date),
    then the soonest of OpenAI-style `x-ratelimit-reset-requests` / `-tokens` ("1s", "6m0s", "250ms").
    """
    found = {k.lower(): v.strip() for k, v in headers.items()}
    seconds: float | None = None
    if "retry-after-ms" in found:
        seconds = _number(found["retry-after-ms"])
        seconds = None if seconds is None else seconds / 1000
    if seconds is None and "retry-after" in found:
        value = found["retry-after"]
        seconds = _number(value)
        if seconds is None:
            try:
                seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
            except (TypeError, ValueError):
                seconds = None
    if seconds is None:
        resets = [_duration(found[k]) for k in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens") if k in found]
        seconds = min((r for r in resets if r is not None), default=None)
    return None if seconds is None else min(max(seconds, 0.0), 600.0)


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None  # not NaN, not infinite


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def _duration(value: str) -> float | None:
    """A Go-style duration as OpenAI's rate-limit headers write it ("6m0s", "1.5s", "250ms"), or plain seconds."""
    number = _number(value)
    if number is not None:
        return number
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value.replace(" ", ""):
        return None
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(n) * scale[u] for n, u in parts)


def classify_http(status: int, body: Any, headers: Mapping[str, str] | None = None) -> UpstreamError:
    """An HTTP error answer (any of the three body shapes) as a protocol error.

    A wait the gateway asks for is kept on a 429 and on any 5xx (503, Anthropic-style 529 "overloaded")."""
    message = error_message(body)
    if not message and status == 401:
        message = _challenge((headers or {}).get("www-authenticate", ""))
    retry_after = retry_after_seconds(headers or {}) if status == 429 or status >= 500 else None
    summary = _NOT_FOUND if status == 404 and not re.search(r"model|模型", message, re.IGNORECASE) else None
    return _make(_code_for(status, message + " " + _error_code(body)), message, status, retry_after, summary)


def _challenge(header: str) -> str:
    """The words of a `WWW-Authenticate` challenge (its error_description, else its error), for a 401 whose
    body says nothing."""
    for pattern in _CHALLENGE:
        match = pattern.search(header)
        if match:
            return match.group(1)
    return ""


def classify_stream_error(payload: dict[str, Any]) -> UpstreamError:
    """An `error` event inside a stream that began with HTTP 200 (its status is the one it names, else 200)."""
    message = error_message(payload)
    status = _status_in(payload)
    return _make(_code_for(status, message + " " + _error_code(payload)), message, status or 200)


def answer_error(text: str) -> UpstreamError:
    """A 200 whose body is a plain text and no stream: classified by what it says, billed nothing (status 200)."""
    message = " ".join(text.split())
    return _make(_code_for(None, message), message, 200)


def listing_error(why: str = "no list of models in the answer") -> UpstreamError:
    """A model list whose shape holds no list of models, or whose pages cannot be read (gateways.wire.listing)."""
    return _make("upstream_unavailable", f"the model list could not be read ({why})", None)


def finish_error() -> UpstreamError:
    """A stream whose choice finished with `finish_reason: "error"` (OpenRouter: its provider failed mid-reply)."""
    return _make("upstream_unavailable", "the reply ended with finish_reason 'error'", 200)


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


def web_page_error(status: int, content_type: str = "text/html") -> UpstreamError:
    """A 2xx web page where an API answer belongs: the base URL points at a site, not at the API."""
    kind = mask_secrets(content_type.strip())[:80] or "no Content-Type"
    return UpstreamError(
        "upstream_unavailable",
        f"The gateway answered with a web page (HTTP {status}, {kind}), not an API answer: check the "
        "provider's base URL (it usually ends in /v1).",
        retryable=False, status=status)



def is_web_page(body: bytes) -> bool:
    """Whether a body is an HTML page, whatever its Content-Type said (a captive portal's, a proxy's)."""
    return _PAGE.match(body) is not None


def lines_error() -> UpstreamError:
    """Newline-delimited JSON that holds no chat completion chunks: a server's own streaming API (Ollama's
    /api/chat), not OpenAI's. Not retried: the same URL would answer the same."""
    return UpstreamError(
        "upstream_unavailable",
        "The gateway streamed newline-delimited JSON that is not OpenAI's chat completion chunks (a server's own "
        "API?): check the provider's base URL (it usually ends in /v1).",
        retryable=False)

