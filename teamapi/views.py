"""/v1/models and /v1/chat/completions as Django views, authenticated by a personal access token.

A completion is answered by teamapi.completions; under daphne its path is served by the lean
ASGI app (teamapi.asgi) and this view serves Django's own server and test client.
"""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from . import calls, completions, parsing, shapes
from .completions import in_thread
from .errors import ApiError, method_not_allowed, too_large


def _bearer(request: HttpRequest) -> str:
    return parsing.bearer_token(request.headers.get("Authorization", ""))


def _address(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _only(request: HttpRequest, method: str) -> HttpResponse | None:
    if request.method == method:
        return None
    response = method_not_allowed(method).response()
    response["Allow"] = method
    return response


@csrf_exempt
async def models(request: HttpRequest) -> HttpResponse:
    """The models this token may use, in OpenAI's list shape (additions: what each is and costs)."""
    if refused := _only(request, "GET"):
        return refused
    try:
        found = await in_thread(calls.models_of)(_bearer(request), _address(request))
    except ApiError as exc:
        return exc.response()
    return JsonResponse(shapes.model_list(found))


@csrf_exempt
async def model(request: HttpRequest, slug: str) -> HttpResponse:
    if refused := _only(request, "GET"):
        return refused
    try:
        found = await in_thread(calls.model_of)(_bearer(request), _address(request), slug)
    except ApiError as exc:
        return exc.response()
    return JsonResponse(shapes.model_object(found))


@csrf_exempt
async def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    return ApiError(404, f"No such endpoint: {request.method} {request.path}. This server offers GET /v1/models "
                         "and POST /v1/chat/completions.", "not_found").response()


def _read(request: HttpRequest) -> bytes:
    limit = settings.GROKWEB["API_MAX_BODY_BYTES"]
    body = request.read(limit + 1)
    if len(body) > limit:
        raise too_large(limit)
    return body


@csrf_exempt
async def chat_completions(request: HttpRequest) -> HttpResponse:
    """Django's way in (its own server, its test client); daphne serves this path by teamapi.asgi."""
    if refused := _only(request, "POST"):
        return refused
    try:
        body = _read(request)
    except ApiError as exc:
        return exc.response()
    answer = await completions.complete(_bearer(request), _address(request), body)
    response: HttpResponse
    if answer.stream is not None:
        response = StreamingHttpResponse(answer.stream, status=answer.status)
        if answer.relay is not None:
            answer.relay.handed()  # until Django starts reading it, the sweep watches it
    else:
        response = HttpResponse(answer.body, status=answer.status)
    for name, value in answer.headers.items():
        response[name] = value
    return response
