"""Refuse a request that carries a NUL character (or, in JSON, a lone surrogate) before any view sees it.

PostgreSQL text cannot hold either: a NUL in a query parameter, a form field or a JSON
string reached a filter or a save and failed there (a 500, or a half-written change).
No text this app takes has a use for one, so it is refused at the door with a 400:
`{detail, code: "bad_request"}` under /api/, OpenAI's error object under /v1/, plain
text elsewhere.
"""
from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse, JsonResponse

from gateways.wire.storable import ESCAPED, NUL, unstorable
from teamapi.shapes import error_body

_JSON_TYPES = ("application/json", "text/plain")


def _body_problem(request: HttpRequest) -> str | None:
    """Form and JSON bodies only: uploads are files, and the Team API reads its own body
    (teamapi.parsing refuses the same there, after the token is checked)."""
    content_type = request.content_type or ""
    if request.method in ("GET", "HEAD", "OPTIONS") or request.path.startswith("/v1/"):
        return None
    if content_type == "application/x-www-form-urlencoded":
        return NUL if b"\x00" in unquote_to_bytes(request.body.replace(b"+", b" ")) else None
    if content_type in _JSON_TYPES and ESCAPED.search(request.body):
        try:
            return unstorable(json.loads(request.body))
        except (ValueError, RecursionError):  # not JSON (or too deep): the view says so
            return None
    return None


def refused(request: HttpRequest) -> str | None:
    """Why the request cannot be served, or None."""
    if "\x00" in request.path or b"\x00" in unquote_to_bytes(request.META.get("QUERY_STRING", "")):
        return NUL
    return _body_problem(request)


def bad_request(path: str, detail: str) -> HttpResponse:
    """A 400 in the error shape of the area the path belongs to."""
    if path.startswith("/api/"):
        return JsonResponse({"detail": detail, "code": "bad_request"}, status=400)
    if path.startswith("/v1/"):
        return JsonResponse(error_body(detail, "invalid_request_error", "bad_request"), status=400,
                            headers={"x-should-retry": "false"})
    return HttpResponse(detail, status=400, content_type="text/plain; charset=utf-8")


def NulGuardMiddleware(get_response: Callable[[HttpRequest], Any]) -> Any:
    if iscoroutinefunction(get_response):
        async def middleware(request: HttpRequest) -> HttpResponse:
            if reason := refused(request):
                return bad_request(request.path, reason)
            response: Awaitable[HttpResponse] = get_response(request)
            return await response

        return markcoroutinefunction(middleware)

    def sync_middleware(request: HttpRequest) -> HttpResponse:
        if reason := refused(request):
            return bad_request(request.path, reason)
        return get_response(request)  # type: ignore[no-any-return]

    return sync_middleware


NulGuardMiddleware.sync_capable = True  # type: ignore[attr-defined]
NulGuardMiddleware.async_capable = True  # type: ignore[attr-defined]
