"""The project's JSON API (PROTOCOL.md, HTTP): each app's router under /api/, OpenAPI at /api/openapi.json.

Session-authenticated, CSRF-checked writes. Every refusal answers `{detail, code, ...extra}`:
a ChatError from any layer with its PROTOCOL.md code, as on the websocket; ninja's own
refusals (a parameter of the wrong type, no session, a view's HttpError) with the code of
their status, so a client reads one shape whatever refused it.
"""
from __future__ import annotations

import datetime
from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.views import defaults
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.renderers import JSONRenderer
from ninja.responses import NinjaJSONEncoder
from ninja.security import SessionAuth

from accounts.api import router as accounts_router
from chat.api import router as chat_router
from gateways.wire.codes import ChatError
from usage.api import router as usage_router

from .openapi import document_errors


class GrokwebAPI(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        """ninja's schema, plus every operation's error answers (grokweb.openapi)."""
        return document_errors(super().get_openapi_schema(*args, **kwargs))


class SameTimes(NinjaJSONEncoder):
    """Times as the websocket's frames write them (`isoformat()`: microseconds, `+00:00`), so one instant has
    one spelling whichever way a client got it; Django's encoder cut it to milliseconds with `Z`, and a
    conversation's `updated_at` from the list differed from the same one in `conversation.created`."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime.datetime):
            return o.isoformat()
        return super().default(o)


class Renderer(JSONRenderer):
    encoder_class = SameTimes


class SignedInSession(SessionAuth):
    """ninja's session auth, with no session answered 401 before any CSRF check (its default says 403 "CSRF check
    Failed" to an anonymous write): a request without a session has nothing to forge, and needs to sign in."""

    def _get_key(self, request: HttpRequest) -> str | None:
        if not request.user.is_authenticated:
            return None  # authenticate() then refuses it: 401 unauthorized
        return super()._get_key(request)


api = GrokwebAPI(title="Grokweb API", version="1", auth=SignedInSession(), docs_url=None, urls_namespace="api",
                 renderer=Renderer())
api.add_router("/", chat_router)
api.add_router("/usage/", usage_router)
api.add_router("/", accounts_router)

ERROR_STATUS = {"not_found": 404, "rate_limited": 429}
# The code of a refusal that has no ChatError behind it, by HTTP status.
STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "bad_request",
                413: "too_large", 429: "rate_limited"}


def _error(request: HttpRequest, status: int, detail: str, **extra: Any) -> Any:
    return api.create_response(request, {"detail": detail, "code": STATUS_CODES.get(status, "bad_request"), **extra},
                               status=status)


@api.exception_handler(ChatError)
def chat_error(request: HttpRequest, exc: ChatError) -> Any:
    return api.create_response(request, {"detail": exc.detail, "code": exc.code, **exc.extra},
                               status=ERROR_STATUS.get(exc.code, 400))


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> Any:
    return _error(request, exc.status_code, str(exc))


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> Any:
    return _error(request, 401, "Sign in first.")


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> Any:
    return _error(request, 404, "Not found.")


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError) -> Any:
    """A parameter or body of the wrong shape: 400 `bad_request`, saying which (ninja's default is a bare 422)."""
    return _error(request, 400, describe(exc.errors), errors=[_plain(e) for e in exc.errors])


def describe(errors: list[dict[str, Any]]) -> str:
    if not errors:
        return "The request is not valid."
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg', 'not valid')}" if where else str(first.get("msg", "The request is not valid."))


def _plain(error: dict[str, Any]) -> dict[str, Any]:
    """An error entry that is sure to encode: pydantic's `ctx` and `input` may hold anything."""
    return {"loc": [str(p) for p in error.get("loc", ())], "msg": str(error.get("msg", "")),
            "type": str(error.get("type", ""))}


def _json_not_allowed(view: Any) -> Any:
    """ninja's view, with its bare-text 405 (a method the path does not take) as the `{detail, code}` refusal."""

    @wraps(view)
    def answer(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            return JsonResponse({"detail": f"{request.method} is not allowed here; this path takes {allowed}.",
                                 "code": STATUS_CODES[405]}, status=405, headers={"Allow": allowed})
        return response

    return answer


def urls() -> tuple[list[Any], str, str]:
    """api.urls, each view answering a wrong method with the JSON refusal too (one status test per call)."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        pattern.callback = _json_not_allowed(pattern.callback)
    return patterns, app_name, namespace


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: under /api/ the `{detail, code}` refusal (no route there is not a page); elsewhere Django's page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "code": STATUS_CODES[404]}, status=404)
    return defaults.page_not_found(request, exception)
