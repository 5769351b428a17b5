"""/v1/models and /v1/chat/completions: async views, authenticated by a personal access token.

A completion costs two thread hops to the database, one before the upstream call
(calls.open_call: token, model, routes, admission) and one after it (calls.close_call: the
ledger row, the Reservation freed); in between the upstream's events go straight into the
response (relay). Errors before the first token answer with their own status; after it, a
stream can only end with an error event (docs/api.md).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from accounts import gate
from gateways.attempts import recorder
from gateways.failover import FailoverStream
from gateways.wire.client import get_client
from gateways.wire.errors import UpstreamError
from usage.ledger import ledger_failed_attempts
from usage.models import Source

from . import calls, liveness, parsing, shapes
from .errors import ApiError, from_upstream
from .relay import Relay, sse, whole

log = logging.getLogger(__name__)


def _db(fn: Any) -> Any:
    """A thread hop that reuses the loop's worker threads (and their database connections).

    Django gives each HTTP request its own thread for thread-sensitive work, and with it a
    new database connection: a cost on every call that this path does not need.
    """
    return database_sync_to_async(fn, thread_sensitive=False)


def _bearer(request: HttpRequest) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _address(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _only(request: HttpRequest, method: str) -> HttpResponse | None:
    if request.method == method:
        return None
    response = ApiError(405, f"Use {method} here.", "bad_request").response()
    response["Allow"] = method
    return response


@csrf_exempt
async def models(request: HttpRequest) -> HttpResponse:
    """The models this token may use, in OpenAI's list shape (additions: what each is and costs)."""
    if refused := _only(request, "GET"):
        return refused
    try:
        found = await _db(calls.models_of)(_bearer(request), _address(request))
    except ApiError as exc:
        return exc.response()
    return JsonResponse(shapes.model_list(found))


@csrf_exempt
async def model(request: HttpRequest, slug: str) -> HttpResponse:
    if refused := _only(request, "GET"):
        return refused
    try:
        found = await _db(calls.model_of)(_bearer(request), _address(request), slug)
    except ApiError as exc:
        return exc.response()
    return JsonResponse(shapes.model_object(found))


@csrf_exempt
async def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    return ApiError(404, f"No such endpoint: {request.method} {request.path}. This server offers GET /v1/models "
                         "and POST /v1/chat/completions.", "not_found").response()


def _release_abandoned(task: asyncio.Task[calls.Call]) -> None:
    """The client left while its call was being admitted: free what the admission held."""
    if task.cancelled() or task.exception() is not None:
        return
    asyncio.ensure_future(_db(gate.release)(task.result().id))


async def _admit(raw: str, address: str | None, parsed: parsing.ApiRequest | parsing.BadRequest) -> calls.Call:
    holder = await liveness.ensure_alive()
    opening = asyncio.ensure_future(_db(calls.open_call)(raw, address, parsed, holder))
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        opening.add_done_callback(_release_abandoned)
        raise


def _read(request: HttpRequest) -> bytes:
    limit = settings.GROKWEB["API_MAX_BODY_BYTES"]
    body = request.read(limit + 1)
    if len(body) > limit:
        raise ApiError(413, f"The request body is over {limit:,} bytes (API_MAX_BODY_BYTES).", "too_large")
    return body


@csrf_exempt
async def chat_completions(request: HttpRequest) -> HttpResponse:
    if refused := _only(request, "POST"):
        return refused
    raw = _bearer(request)
    try:
        body = _read(request)
        parsed: parsing.ApiRequest | parsing.BadRequest = parsing.parse(body)
    except parsing.BadRequest as exc:
        parsed = exc  # answered after the token is checked: a stranger learns nothing
    except ApiError as exc:
        return exc.response()
    try:
        call = await _admit(raw, _address(request), parsed)
    except ApiError as exc:
        return exc.response()
    except Exception:  # never a traceback page: an error in OpenAI's shape, and the cause in the log
        log.exception("Team API admission failed")
        return ApiError(500, "Something went wrong before the call could start.", "internal").response()
    assert isinstance(parsed, parsing.ApiRequest)
    relay = Relay(call, FailoverStream(
        get_client(), list(call.routes), call.request, record=recorder(call.model.slug, thread_sensitive=False),
        failed_over=ledger_failed_attempts(call.user_id, None, call.model.slug, thread_sensitive=False,
                                           source=Source.API, token_id=call.token_id),
        start_deadline_s=settings.GROKWEB["REPLY_START_DEADLINE_S"],
    ))
    try:
        first = await relay.next()  # failover happens here: no status is sent before it is over
    except UpstreamError as exc:
        await relay.end("error", exc)
        return _tagged(from_upstream(exc).response(), call)
    except BaseException:  # the client went away (or something broke): stop, bill, free
        await relay.end("cancelled")
        raise
    cid = shapes.completion_id()
    if parsed.stream:
        response: HttpResponse = StreamingHttpResponse(
            sse(relay, first, shapes.Chunks(cid, call.model.slug), parsed.include_usage),
            content_type="text/event-stream; charset=utf-8")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        relay.handed()
        return _tagged(response, call)
    outcome, problem = await whole(relay, first)
    content, reasoning = "".join(relay.content), "".join(relay.reasoning)
    if problem is not None:  # the text so far is billed, so it is given back with the error
        body_out = problem.body()
        body_out["error"].update(content=content, usage=relay.usage_object())
        return _tagged(JsonResponse(body_out, status=problem.status, headers=problem.headers()), call)
    answer = shapes.completion(cid, call.model.slug, content, reasoning, relay.finish_reason or "stop",
                               relay.usage_object())
    return _tagged(JsonResponse(answer), call)


def _tagged(response: HttpResponse, call: calls.Call) -> HttpResponse:
    """`x-request-id`: the call's id (the SDKs show it with their errors; our logs name calls by it)."""
    response["x-request-id"] = str(call.id)
    return response
