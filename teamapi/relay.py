"""One Team API call, from the upstream's events to its single ending: the fast path.

The upstream client's events go straight into the HTTP response (SSE chunks or one JSON
completion): no channel layer, no database write while tokens flow. The call ends exactly
once, however it ends (finished, failed, cut by its budget, the client gone, the response
never read): the upstream stream is closed, the usage is the gateway's or an estimate, and
one thread hop writes the ledger row and frees the Reservation (calls.close_call). The
ending runs in a task of its own, so a second cancellation cannot interrupt it.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from channels.db import database_sync_to_async

from accounts import gate
from gateways.attempts import Attempted
from gateways.failover import FailoverStream
from gateways.wire.errors import UpstreamError
from gateways.wire.events import ContentDelta, Finish, ReasoningDelta, UpstreamEvent, Usage
from gateways.wire.usage import NormalizedUsage, estimate, normalize, refused, stored_usage
from usage.models import UsageRecord

from . import admission, liveness
from .calls import Call, Ending, close_call
from .eager import Later, now
from .errors import ApiError, budget_cut, from_upstream
from .shapes import DONE, Chunks, usage_object

log = logging.getLogger(__name__)
UNREAD_AFTER_S = 30.0  # a streamed response nobody started reading by then is ended (see liveness)
BUDGET_DETAIL = ("The budget this call was admitted under is used up: the reply was cut here. "
                 "Its text so far is billed.")

_close_call = database_sync_to_async(close_call, thread_sensitive=False)
_handed: set[Relay] = set()


class Relay:
    """Reads the upstream events of one call and keeps what its ending needs."""

    def __init__(self, call: Call, events: FailoverStream, clock: Callable[[], float] = time.monotonic, *,
                 attempts: list[Attempted] | None = None) -> None:
        self.call = call
        self._events = events
        # The stream's attempts (gateways.attempts.buffered), written with the ledger row.
        self.attempts: list[Attempted] = attempts if attempts is not None else []
        # An admission still running beside the upstream request: the ending waits for it, so the
        # Reservation it makes is freed, never left behind.
        self._admitting: asyncio.Future[Any] | None = None
        admission.started(call.user_id)
        self._clock = clock
        self._started = clock()
        self._first_token: float | None = None
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.chars = 0
        self.upstream_usage: Usage | None = None
        self.finish_reason = ""
        self.usage: NormalizedUsage | None = None  # what was billed, once ended
        self.record: UsageRecord | None = None
        self._ending: asyncio.Future[UsageRecord | None] | None = None
        self._handed_at: float | None = None

    def admitted_by(self, admitting: asyncio.Future[Any]) -> asyncio.Future[Any]:
        """The call's admission runs beside its upstream request: its ending waits for it (and frees what it holds)."""
        self._admitting = admitting
        return admitting

    async def next(self) -> UpstreamEvent | None:
        """The next upstream event (None at the end); raises UpstreamError."""
        try:
            event = await anext(self._events)
        except StopAsyncIteration:
            return None
        if isinstance(event, ContentDelta):
            self.content.append(event.text)
            self._text(event.text)
        elif isinstance(event, ReasoningDelta):
            self.reasoning.append(event.text)
            self._text(event.text)
        elif isinstance(event, Usage):
            self.upstream_usage = event  # a running total: the last one wins
        elif isinstance(event, Finish):
            self.finish_reason = event.reason
        return event

    def _text(self, text: str) -> None:
        if self._first_token is None:
            self._first_token = self._clock()
        self.chars += len(text)

    def over_budget(self) -> bool:
        """Whether the call has produced all its budget allows (accounts.gate.output_room), so must stop."""
        room = self.call.output_room
        return room is not None and gate.tokens_so_far(self.chars) >= room

    async def end(self, outcome: str, error: UpstreamError | None = None) -> UsageRecord | None:
        """End the call once (later calls wait for the first ending): close upstream, bill, free the slot."""
        _handed.discard(self)
        if self._ending is None:
            self._ending = asyncio.ensure_future(self._end(outcome, error))
        return await asyncio.shield(self._ending)

    async def drop(self) -> None:
        """End a call that was refused before its gateway answered: the upstream request stopped, nothing billed."""
        _handed.discard(self)
        if self._ending is None:
            self._ending = asyncio.ensure_future(self._dropped())
        await asyncio.shield(self._ending)

    async def _dropped(self) -> UsageRecord | None:
        await self._close_stream()
        return None

    async def _close_stream(self) -> None:
        try:
            await self._events.aclose()  # stops the upstream call if it is still running
        except Exception:  # a broken stream may fail to close; the ending matters more
            log.debug("closing the upstream stream failed", exc_info=True)
        if self._admitting is not None:
            await asyncio.wait([self._admitting])
        admission.ended(self.call.user_id)

    async def _end(self, outcome: str, error: UpstreamError | None) -> UsageRecord | None:
        await self._close_stream()
        self.usage, raw = self._usage_for(outcome, error)
        served = self._events.served
        ending = Ending(
            outcome="error" if outcome == "budget" else outcome, usage=self.usage, raw_usage=raw,
            upstream_model=served.upstream_id if served else "", route_id=served.route_id if served else None,
            provider_id=served.provider_id if served else None,
        )
        self.record = await _close_call(self.call, ending, tuple(self.attempts))
        return self.record

    def _usage_for(self, outcome: str, error: UpstreamError | None) -> tuple[NormalizedUsage, dict[str, Any] | None]:
        usage, served = self.upstream_usage, self._events.served
        if usage is not None and outcome == "complete":
            convention = served.endpoint.usage_convention if served is not None else "auto"
            return normalize(usage.raw, usage.meta, convention), stored_usage(usage.raw, usage.meta)
        if error is not None and error.status is not None and self._first_token is None and usage is None:
            return refused(), None  # the gateway's own error before any token or usage: nothing billed
        # Cut, stopped, dropped or no usage sent: estimated from what was relayed, flagged, never zero.
        thinking_until = self._first_token if self._first_token is not None else self._clock()
        hidden = int((thinking_until - self._started) * self.call.hidden_reasoning_rate)
        return (estimate(self.call.prompt_chars, "".join(self.content), "".join(self.reasoning), hidden),
                usage.raw if usage is not None else None)

    def usage_object(self) -> dict[str, Any]:
        assert self.usage is not None, "the call has not ended"
        return usage_object(self.usage, self.record.cost_ticks if self.record is not None else 0)

    # Responses that are never read --------------------------------------------------

    def handed(self) -> None:
        """The streamed response was returned to Django; until it is read, the sweep watches it."""
        self._handed_at = self._clock()
        _handed.add(self)

    def reading(self) -> None:
        _handed.discard(self)


def _end_unread() -> None:
    """End streamed calls whose response nobody read (the client went away before the first chunk)."""
    now = time.monotonic()
    for relay in list(_handed):
        if relay._handed_at is not None and now - relay._handed_at > UNREAD_AFTER_S:
            log.warning("Team API call %s: its response was never read; ending it", relay.call.id)
            asyncio.ensure_future(relay.end("cancelled"))


liveness.on_beat(_end_unread)


# The two answers -------------------------------------------------------------------------


async def sse(relay: Relay, first: UpstreamEvent | None, chunks: Chunks, include_usage: bool) -> AsyncIterator[bytes]:
    """The streamed answer: a chunk per upstream text event, then usage (if asked), then [DONE] or an error.

    The first chunk leaves alone and at once. After it, the chunks of the events already in hand (one
    upstream read holds many when the gateway is ahead) leave together, as one body message, the moment
    the next event would have to wait for the network (teamapi.eager): one send through the server per
    read instead of one per token, so less of the CPU the client needs to read its first token.
    """
    relay.reading()
    outcome, error, finished = "complete", None, False
    pending: list[bytes] = []
    later: Later[UpstreamEvent | None] | None = None
    try:
        try:
            event, alone = first, True
            while event is not None:
                if isinstance(event, ContentDelta):
                    pending.append(chunks.content(event.text))
                elif isinstance(event, ReasoningDelta):
                    pending.append(chunks.reasoning(event.text))
                elif isinstance(event, Finish) and not finished:
                    finished = True
                    pending.append(chunks.finish(event.reason))
                if relay.over_budget():
                    outcome = "budget"
                    break
                if alone and pending:
                    alone = False
                    yield _joined(pending)
                event, later = now(relay.next())
                if later is not None:
                    if pending:
                        yield _joined(pending)  # what the read held: the next event needs the network
                    waiting, later = later, None
                    event = await waiting
        except BaseException:
            if later is not None:  # stopped while the next read was half-way: end that read first
                await later.stop()
            raise
    except UpstreamError as exc:
        outcome, error = "error", exc
    except (asyncio.CancelledError, GeneratorExit):  # the client went away: stop upstream, bill what was used
        await relay.end("cancelled")
        raise
    except Exception:
        log.exception("Team API call %s failed", relay.call.id)
        outcome, error = "error", UpstreamError("internal", "Something went wrong while relaying this reply.")
    if pending:  # the text before the ending (or the error) is the client's before the ledger row is written
        yield _joined(pending)
    await relay.end(outcome, error)
    if outcome == "complete" and not finished:
        yield chunks.finish(relay.finish_reason or "stop")
    if include_usage:
        yield chunks.usage(relay.usage_object())
    if outcome == "complete":
        yield DONE
    else:
        problem = budget_cut(BUDGET_DETAIL) if outcome == "budget" else from_upstream(error)  # type: ignore[arg-type]
        yield chunks.error(problem.body())


def _joined(pending: list[bytes]) -> bytes:
    """The chunks in hand as one body message; the list is emptied for the next ones."""
    joined = pending[0] if len(pending) == 1 else b"".join(pending)
    pending.clear()
    return joined


async def whole(relay: Relay, first: UpstreamEvent | None) -> tuple[str, ApiError | None]:
    """Read the whole answer (stream: false); (outcome, the error to answer with, if any)."""
    try:
        event = first
        while event is not None:
            if relay.over_budget():
                await relay.end("budget")
                return "budget", budget_cut(BUDGET_DETAIL)
            event = await relay.next()
    except UpstreamError as exc:
        await relay.end("error", exc)
        return "error", from_upstream(exc)
    except Exception:
        log.exception("Team API call %s failed", relay.call.id)
        await relay.end("error")
        return "error", ApiError(500, "Something went wrong while reading this reply.", "internal")
    except BaseException:  # cancelled: the client went away
        await relay.end("cancelled")
        raise
    await relay.end("complete")
    return "complete", None
