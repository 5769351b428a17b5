"""POST /v1/chat/completions, whatever serves it: the answer to one call as a status, headers and bytes.

Served by a lean ASGI app (teamapi.asgi: no page middleware) and by a Django view for Django's
own server and test client (teamapi.views). Between the request and the upstream request: the
token and its owner's limits from a per-process cache (teamapi.grants), the model and its routes
from gateways.plans, the per-minute counter in the shared cache, all in the event loop when the
caches are warm; admission runs beside the upstream request where it is safe (teamapi.admission),
else before it. The first token waits for admission; then the upstream's events go straight into
the response (relay). Errors before the first token answer with their own status; after it, a
stream can only end with an error event (docs/api.md).
"""
from __future__ import annotations

import asyncio
import functools
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import SynchronousOnlyOperation

from accounts import gate, tokens
from gateways.attempts import Attempted, buffered
from gateways.failover import FailoverStream
from gateways.wire.client import get_client
from gateways.wire.errors import UpstreamError
from gateways.wire.events import UpstreamEvent
from usage.ledger import ledger_failed_attempts
from usage.models import Source

from . import admission, calls, grants, liveness, parsing, shapes
from .errors import ApiError, from_token, from_upstream
from .hop import Hop
from .relay import Relay, sse, whole

log = logging.getLogger(__name__)
JSON = "application/json"
# Turns of the event loop an upstream request takes to go out (httpx writes its headers and its
# body on turns of their own); admission starts after them, so its thread does not hold the CPU
# (and the GIL) while the request is still being written.
SEND_TURNS = 6


@dataclass
class Answer:
    """What to send back: a whole body, or a stream of SSE events (`relay` set while it is unread)."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None
    relay: Relay | None = field(default=None, repr=False)


def json_answer(payload: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, {"Content-Type": JSON, **(headers or {})}, json.dumps(payload).encode())


def refusal(exc: ApiError) -> Answer:
    return json_answer(exc.body(), exc.status, exc.headers())


@functools.cache
def in_thread(fn: Any) -> Any:
    """A thread hop that reuses the loop's worker threads (and their database connections).

    Django gives each HTTP request its own thread for thread-sensitive work, and with it a
    new database connection: a cost on every call that this path does not need. One wrapper per
    function, made once (making one cost about 11 µs of CPU per call here).
    """
    return database_sync_to_async(fn, thread_sensitive=False)


async def complete(raw: str, address: str | None, body: bytes) -> Answer:
    """Answer one call: `raw` is the bearer token, `body` the request's JSON."""
    try:
        parsed: parsing.ApiRequest | parsing.BadRequest = parsing.parse(body)
    except parsing.BadRequest as exc:
        parsed = exc  # answered after the token is checked: a stranger learns nothing
    try:
        holder = await liveness.ensure_alive()
        planned = await _plan(raw, address, parsed)
        calls.count(planned)
        call_id = uuid.uuid4()
        limits = planned.grant.limits
        if admission.alongside(planned.user.pk, planned.grant.budgeted, limits.max_live_generations):
            return await _admitted_alongside(planned, call_id, holder)
        call = await _admit(planned, call_id, holder)
    except ApiError as exc:
        return refusal(exc)
    except Exception:  # never a traceback: an error in OpenAI's shape, and the cause in the log
        log.exception("Team API admission failed")
        return refusal(ApiError(500, "Something went wrong before the call could start.", "internal"))
    relay = _relay(call)
    return await _answer(relay, planned.parsed, relay.next())


async def _plan(raw: str, address: str | None, parsed: parsing.ApiRequest | parsing.BadRequest) -> calls.Planned:
    """Token, body, model, routes: in the event loop when the caches have them, else in a worker thread."""
    try:
        grant = grants.cached(raw) or await in_thread(grants.load)(raw)
    except tokens.TokenRefused as exc:
        raise from_token(exc) from None
    if tokens.touch_due(grant.token, address):
        asyncio.ensure_future(in_thread(tokens.touch)(grant.token, address))
    try:
        return calls.plan(grant, parsed)
    except SynchronousOnlyOperation:  # a cache was cold: nothing was changed before the first read
        planned: calls.Planned = await in_thread(calls.plan)(grant, parsed)
        return planned


def _release_abandoned(task: asyncio.Future[calls.Call]) -> None:
    """The client left while its call was being admitted: free what the admission held."""
    if task.cancelled() or task.exception() is not None:
        return
    asyncio.ensure_future(in_thread(gate.release)(task.result().id))


async def _admit(planned: calls.Planned, call_id: uuid.UUID, holder: str) -> calls.Call:
    """Admission before the upstream request (a budget applies, or a refusal is possible)."""
    opening = Hop(calls.admit, planned, call_id, holder).start().future
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        opening.add_done_callback(_release_abandoned)
        calls.end_trials(planned)
        raise
    except ApiError:
        calls.end_trials(planned)
        admission.refused(planned.user.pk)
        raise


def _relay(call: calls.Call) -> Relay:
    attempts: list[Attempted] = []
    return Relay(call, FailoverStream(
        get_client(), list(call.routes), call.request, record=buffered(call.model.slug, attempts),
        failed_over=ledger_failed_attempts(call.user_id, None, call.model.slug, thread_sensitive=False,
                                           source=Source.API, token_id=call.token_id),
        start_deadline_s=settings.GROKWEB["REPLY_START_DEADLINE_S"],
    ), attempts=attempts)


async def _admitted_alongside(planned: calls.Planned, call_id: uuid.UUID, holder: str) -> Answer:
    """The upstream request starts now; admission runs in a worker thread meanwhile (teamapi.admission).

    This task makes the upstream request and waits for its first event itself; admission is the task
    beside it. A task of its own for the upstream request (as before) cost the first token two turns of
    the event loop: one before the request could start, one to hand its first event back. A refused or
    broken admission cancels this task's wait (`_Refusal`), so a refused call still stops at once. A first
    event that comes after the thread is done reads its answer at once (teamapi.hop), with no loop turn.
    """
    relay = _relay(calls.make_call(planned, call_id))
    beside = _Beside(planned, call_id, holder)
    admitting = relay.admitted_by(beside.hop.future)
    stopper = _Refusal(admitting)
    try:
        first = await _outcome(relay.next())
    except asyncio.CancelledError:
        if not stopper.stopped():
            await asyncio.shield(relay.end("cancelled"))  # the client went away: bill what was used, free the slot
            raise
        first = None  # refused (or broken) before the first event: its answer is admission's
    finally:
        stopper.close()
    try:
        if not beside.hop.ready:  # the first token waits for admission
            await asyncio.wait([admitting])
        beside.hop.result()  # the thread's answer, read as soon as it is there (teamapi.hop)
    except BaseException as exc:  # refused, broken, or the client went away
        # Shielded: a second cancellation must not leave the upstream call open or a Reservation held.
        answered = (first is not None and first.exception is None) or relay.chars > 0
        await asyncio.shield(_stop(relay, answered, refused=isinstance(exc, ApiError)))
        if isinstance(exc, ApiError):
            admission.refused(planned.user.pk)
            return _tagged(refusal(exc), relay)
        if isinstance(exc, Exception):
            log.exception("Team API admission failed")
            return _tagged(refusal(ApiError(500, "Something went wrong before the call could start.", "internal")),
                           relay)
        raise
    assert first is not None
    return await _answer(relay, planned.parsed, first.get())


class _Beside:
    """Admission in a worker thread, started once the upstream request is out (SEND_TURNS turns of the loop)."""

    def __init__(self, planned: calls.Planned, call_id: uuid.UUID, holder: str) -> None:
        self.hop: Hop[calls.Call] = Hop(calls.admit, planned, call_id, holder)
        self._starting = asyncio.ensure_future(self._start())  # kept: the loop holds tasks only weakly

    async def _start(self) -> None:
        try:
            for _ in range(SEND_TURNS):  # the upstream request goes out before admission takes the CPU
                await asyncio.sleep(0)
        except asyncio.CancelledError:  # the loop is closing: nothing was started, nothing is held
            self.hop.future.cancel()
            raise
        self.hop.start()


@dataclass
class _Outcome:
    """The first upstream event, or what reading it raised (answered after admission)."""

    event: UpstreamEvent | None = None
    exception: Exception | None = None

    async def get(self) -> UpstreamEvent | None:
        if self.exception is not None:
            raise self.exception
        return self.event


async def _outcome(reading: Awaitable[UpstreamEvent | None]) -> _Outcome:
    try:
        return _Outcome(await reading)
    except Exception as exc:  # an upstream failure (or a bug): answered once admission has decided
        return _Outcome(exception=exc)


class _Refusal:
    """Cancels the task that made it when `admitting` fails before `close()`: a refused call stops waiting."""

    def __init__(self, admitting: asyncio.Future[Any]) -> None:
        self._task = asyncio.current_task()
        self._admitting: asyncio.Future[Any] | None = admitting
        self._stopped = False
        admitting.add_done_callback(self._done)

    def _done(self, admitting: asyncio.Future[Any]) -> None:
        if self._admitting is None or self._task is None:
            return
        if admitting.cancelled() or admitting.exception() is not None:
            self._stopped = True
            self._task.cancel()

    def stopped(self) -> bool:
        """Whether the wait was cancelled by this (not by the client going away); takes the cancellation back."""
        if self._stopped and self._task is not None:
            self._task.uncancel()
            return True
        return False

    def close(self) -> None:
        if self._admitting is not None:
            self._admitting.remove_done_callback(self._done)
            self._admitting = None


async def _stop(relay: Relay, answered: bool, *, refused: bool) -> None:
    """End a call stopped before its first token was relayed."""
    if refused and not answered:
        await relay.drop()  # refused (nothing held) before the gateway answered: stopped, nothing to bill
    else:
        await relay.end("cancelled")  # bill what the gateway sent, free what admission held


async def _answer(relay: Relay, parsed: parsing.ApiRequest, first_event: Awaitable[UpstreamEvent | None]) -> Answer:
    """From the first upstream event on: failover is over before it, so no status is sent before it."""
    call = relay.call
    try:
        first = await first_event
    except UpstreamError as exc:
        await relay.end("error", exc)
        return _tagged(refusal(from_upstream(exc)), relay)
    except BaseException:  # the client went away (or something broke): stop, bill, free
        await relay.end("cancelled")
        raise
    cid = shapes.completion_id()
    if parsed.stream:
        headers = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache",
                   "X-Accel-Buffering": "no"}
        stream = sse(relay, first, shapes.Chunks(cid, call.model.slug, include_usage=parsed.include_usage),
                     parsed.include_usage)
        return _tagged(Answer(200, headers, stream=stream, relay=relay), relay)
    _, problem = await whole(relay, first)
    content, reasoning = "".join(relay.content), "".join(relay.reasoning)
    if problem is not None:  # the text so far is billed, so it is given back with the error
        body_out = problem.body()
        body_out["error"].update(content=content, usage=relay.usage_object())
        return _tagged(json_answer(body_out, problem.status, problem.headers()), relay)
    answer = shapes.completion(cid, call.model.slug, content, reasoning, relay.finish_reason or "stop",
                               relay.usage_object())
    return _tagged(json_answer(answer), relay)


def _tagged(answer: Answer, relay: Relay) -> Answer:
    """`x-request-id`: the call's id (the SDKs show it with their errors; our logs name calls by it)."""
    answer.headers["x-request-id"] = str(relay.call.id)
    return answer
