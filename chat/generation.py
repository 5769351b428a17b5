"""The generation runner: upstream events -> coalesced frames -> channel layer -> database.

A generation belongs to the process, not to a socket: closing a tab leaves it
running, `stop` cancels it. The runner takes its event stream, publisher,
storage and clock as arguments so it is tested without a websocket.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from accounts.gate import tokens_so_far
from gateways.wire.errors import UpstreamError
from gateways.wire.events import TEXT_EVENTS, ContentDelta, Finish, UpstreamEvent, Usage
from gateways.wire.usage import estimate, normalize, refused, stored_usage

from .live import LiveText
from .services import Ending, error_frame, unsaved

log = logging.getLogger(__name__)
Publish = Callable[[dict[str, Any]], Awaitable[None]]
PublishNow = Callable[[dict[str, Any]], bool]


class Store(Protocol):
    async def checkpoint(self, message_id: UUID, content: str, reasoning: str, seq: int) -> None: ...

    async def finish(self, message_id: UUID, ending: Ending) -> dict[str, Any] | None:
        """Persist the ending; return the stored usage as a protocol dict."""

    async def end_anyway(self, message_id: UUID, ending: Ending) -> dict[str, Any] | None:
        """`finish` raised: store what can be stored and free the slot (chat.services.end_anyway)."""


@dataclass(frozen=True)
class Pacing:
    frame_interval: float = 0.03  # at most one delta frame per interval
    checkpoint_first: float = 2.0  # first checkpoint after this many seconds,
    checkpoint_max: float = 30.0  # then doubling up to this,
    checkpoint_limit: int = 20  # and never more than this many per reply


@dataclass(frozen=True)
class Job:
    message_id: UUID
    prompt_chars: int
    usage_convention: str = "auto"
    hidden_reasoning_rate: float = 0.0
    show_route: bool = False  # add the serving route to the final frame (staff only)
    output_room: int | None = None  # output tokens the budget leaves this reply (accounts.gate.output_room)


BUDGET_CUT = ("This reply reached what your budget had left for it, so it was stopped here; "
              "the text so far is kept (and billed).")


class Served(Protocol):
    """The route that answered (gateways.failover.RouteChoice, a frozen dataclass: read-only)."""

    @property
    def route_id(self) -> int | None: ...

    @property
    def provider_id(self) -> int: ...

    @property
    def provider_name(self) -> str: ...

    @property
    def upstream_id(self) -> str: ...

    @property
    def endpoint(self) -> Any: ...


class Runner:
    """Runs one reply to its end, whatever that end is, and reports it exactly once."""

    def __init__(
        self,
        job: Job,
        events: AsyncIterator[UpstreamEvent],
        publish: Publish,
        store: Store,
        *,
        pacing: Pacing = Pacing(),
        clock: Callable[[], float] = time.monotonic,
        served: Callable[[], Served | None] | None = None,
        publish_now: PublishNow | None = None,
    ) -> None:
        """`publish_now(frame)`: publishes a frame synchronously and returns True, or returns False having
        done nothing (then `publish` does it, from the flusher). Given, a delta goes out from the reading
        task as soon as its text arrives, if the last frame is an interval old: for an event stream whose
        every text event is one read's text (a coalesced, joined reader), so no wake-up of the flusher
        per frame interval."""
        self.job = job
        self._served = served or (lambda: None)
        self.live = LiveText(str(job.message_id))
        self._events = events
        self._publish = publish
        self._store = store
        self._pacing = pacing
        self._clock = clock
        self._wake = asyncio.Event()
        self._usage: Usage | None = None
        self._finish_reason = ""
        self._refused = False  # the gateway said it failed (UpstreamError.status) before anything billable
        self._started = clock()
        self._first_token: float | None = None
        self._pump: asyncio.Task[tuple[str, str, str]] | None = None
        self._closing = False
        self._in_io = False  # the flusher is sending a frame or a checkpoint
        self._publish_now = publish_now
        self._held: dict[str, Any] | None = None  # a frame taken for publish_now that it could not take
        self._last_frame = -math.inf
        self._next_checkpoint = self._started + pacing.checkpoint_first
        self.unstored: Ending | None = None  # an ending told to the tabs that the database did not take

    async def run(self) -> Ending:
        self._pump = asyncio.create_task(self._consume())
        flusher = asyncio.create_task(self._flush_loop())
        try:
            status, code, detail = await self._pump
        finally:
            self._closing = True
            if self._in_io:
                self._wake.set()
                await flusher  # let a frame or checkpoint in flight complete
            else:
                flusher.cancel()
        return await self._end(status, code, detail)

    def stop(self) -> None:
        """Cancel the upstream read; the runner still stores and announces the ending."""
        if self._pump is not None:
            self._pump.cancel()

    async def _consume(self) -> tuple[str, str, str]:
        try:
            async for event in self._events:
                self._apply(event)
                if self._over_budget():
                    return "error", "budget_exceeded", BUDGET_CUT
            return "complete", "", ""
        except asyncio.CancelledError:
            return "cancelled", "", ""
        except UpstreamError as exc:
            self._refused = exc.status is not None and self._first_token is None and self._usage is None
            return "error", exc.code, exc.detail
        except Exception:  # never leave a reply streaming, whatever broke
            log.exception("generation %s failed", self.job.message_id)
            return "error", "internal", "Something went wrong while writing this reply."
        finally:
            await _close(self._events)

    def _apply(self, event: UpstreamEvent) -> None:
        if isinstance(event, TEXT_EVENTS):
            if self._first_token is None:
                self._first_token = self._clock()
            if isinstance(event, ContentDelta):
                if self.live.thought_ms is None:
                    self.live.thought_ms = _ms(self._clock() - self._started)
                self.live.add_content(event.text)
            else:
                self.live.add_reasoning(event.text)
            self._text_added()
        elif isinstance(event, Usage):
            self._usage = event  # some gateways send a running total: the last one wins
        elif isinstance(event, Finish):
            self._finish_reason = event.reason

    def _over_budget(self) -> bool:
        """Whether the reply's output, counted as its ledger estimate will count it, has used up its room.

        Checked after every upstream event, so the reply ends within one read of the room.
        """
        room = self.job.output_room
        if room is None or self._first_token is None:
            return False
        hidden = int((self._first_token - self._started) * self.job.hidden_reasoning_rate)
        live = self.live
        return tokens_so_far(live.content_chars) + tokens_so_far(live.reasoning_chars) + hidden >= room

    def _text_added(self) -> None:
        """New text: out at once from here (publish_now) if the last frame is an interval old, else the flusher's."""
        now = self._clock()
        if (self._publish_now is None or self._in_io or self._held is not None
                or now - self._last_frame < self._pacing.frame_interval):
            self._wake.set()
            return
        frame = self.live.take_delta()
        if frame is None:
            return
        self._last_frame = now
        try:
            published = self._publish_now(frame)
        except Exception:  # as in _send: a frame that cannot go out never stops the reply
            log.warning("reply %s: a delta frame could not be published", self.job.message_id, exc_info=True)
            published = True
        if not published:
            self._held = frame  # the flusher sends it, through `publish`, before anything else
            self._wake.set()
        elif now >= self._next_checkpoint:
            self._wake.set()  # the checkpoint is the flusher's (a database hop, not in the reading task)

    def _until_next_frame(self) -> float:
        """Seconds before the next delta may go out (none for a frame publish_now refused: it is due)."""
        if self._held is not None:
            return 0.0
        return self._last_frame + self._pacing.frame_interval - self._clock()

    async def _flush_loop(self) -> None:
        """Publish pending text at most once per frame interval; checkpoint now and then."""
        pacing = self._pacing
        gap, saved_seq, checkpoints = pacing.checkpoint_first, 0, 0
        while not self._closing:
            await self._wake.wait()
            # At most one frame per interval (the protocol), timed from the last frame, not by a timer
            # of its own: a paced upstream read (gateways.wire.client) brings text once per interval,
            # a little over it (chat.hub: READ_PAUSE), and the frame goes out on that same wake-up (from
            # the reading task itself with `publish_now`). A timer here ran out of phase with the
            # reader's, which woke the process twice per interval. Text that comes sooner (an unpaced
            # reader) waits for the interval.
            wait = self._until_next_frame()
            while wait > 0:
                await asyncio.sleep(wait)
                wait = self._until_next_frame()  # later if a frame went out from the reading task meanwhile
            self._wake.clear()
            self._in_io = True
            frame, self._held = self._held, None
            if frame is None:
                frame = self.live.take_delta()
                if frame is not None:
                    self._last_frame = self._clock()
            if frame is not None:
                await self._send(frame)
            now = self._clock()
            if now >= self._next_checkpoint and self.live.seq != saved_seq and checkpoints < pacing.checkpoint_limit:
                snap = self.live.snapshot()
                try:
                    await self._store.checkpoint(self.job.message_id, snap["content"], snap["reasoning"],
                                                 snap["seq"])
                except Exception:  # a checkpoint is insurance: the reply goes on without it
                    log.warning("reply %s: a checkpoint failed", self.job.message_id, exc_info=True)
                saved_seq, checkpoints = snap["seq"], checkpoints + 1
                gap = min(gap * 2, pacing.checkpoint_max)
                self._next_checkpoint = now + gap
            self._in_io = False

    def _usage_for(self, status: str, served: Served | None) -> tuple[Any, dict[str, Any] | None]:
        if self._usage is not None and status == "complete":
            raw = self._usage.raw
            convention = served.endpoint.usage_convention if served is not None else self.job.usage_convention
            usage = normalize(raw, self._usage.meta, convention)
            return usage, stored_usage(raw, self._usage.meta)
        if status == "error" and self._refused:
            # The gateway's own error (a status, or an error in its 200 answer) before any token or usage: its
            # refusal, which it billed nothing. A cut or a timeout is still estimated. The ledger
            # still gets its row (outcome "error"), with zero tokens and no cost, not an estimate.
            return refused(), None
        # Stopped, dropped or no usage sent: estimate, flagged, never zero.
        thinking_until = self._first_token if self._first_token is not None else self._clock()
        hidden = int((thinking_until - self._started) * self.job.hidden_reasoning_rate)
        usage = estimate(self.job.prompt_chars, self.live.content, self.live.reasoning, hidden)
        return usage, (self._usage.raw if self._usage is not None else None)

    async def _send(self, frame: dict[str, Any]) -> None:
        """Publish; a frame that cannot go out never stops the reply (tabs resync by seq and snapshot)."""
        try:
            await self._publish(frame)
        except Exception:
            log.warning("reply %s: a %s frame could not be published", self.job.message_id, frame["type"],
                        exc_info=True)

    async def _end(self, status: str, code: str, detail: str) -> Ending:
        held, self._held = self._held, None
        if held is not None:  # taken for publish_now, which could not take it, and the flusher did not get to it
            await self._send(held)
        frame = self.live.take_delta()
        if frame is not None:
            await self._send(frame)
        now = self._clock()
        served = self._served()
        usage, raw = self._usage_for(status, served)
        ending = Ending(
            status=status,
            content=self.live.content,
            reasoning=self.live.reasoning,
            finish_reason=self._finish_reason if status == "complete" else "",
            usage=usage,
            raw_usage=raw,
            error_code=code,
            error_detail=detail,
            ttft_ms=_ms(self._first_token - self._started) if self._first_token is not None else None,
            duration_ms=_ms(now - self._started),
            upstream_model=served.upstream_id if served is not None else "",
            route_id=served.route_id if served is not None else None,
            provider_id=served.provider_id if served is not None else None,
        )
        try:
            kept_usage = await self._store.finish(self.job.message_id, ending)
        except Exception:  # ending a reply cannot fail: end it as an error with what can be stored
            log.exception("reply %s: storing its ending failed; it ends as an error", self.job.message_id)
            ending = unsaved(ending)
            kept_usage = await self._end_anyway(ending)
        frame = self._final_frame(ending, kept_usage)
        if self.job.show_route and served is not None:
            frame["route"] = {"provider": served.provider_name, "upstream_id": served.upstream_id}
        await self._send(frame)
        return ending

    async def _end_anyway(self, ending: Ending) -> dict[str, Any] | None:
        try:
            return await self._store.end_anyway(self.job.message_id, ending)
        except Exception:
            log.exception("reply %s: the database took no ending; it is kept to store later", self.job.message_id)
            self.unstored = ending
            return None

    def _final_frame(self, ending: Ending, usage: dict[str, Any] | None) -> dict[str, Any]:
        message = str(self.job.message_id)
        if ending.status == "error":
            return error_frame(self.job.message_id, ending, usage)
        return {
            "type": "message.done", "message": message, "status": ending.status,
            "finish_reason": ending.finish_reason or None, "content": ending.content,
            "reasoning": ending.reasoning, "usage": usage,
            "timing": {"ttft_ms": ending.ttft_ms, "duration_ms": ending.duration_ms},
        }


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


async def _close(events: AsyncIterator[UpstreamEvent]) -> None:
    """Close the upstream stream so a stopped reply frees its connection at once."""
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        try:
            await asyncio.shield(aclose())
        except Exception:  # closing a broken stream may raise; the ending matters more
            log.debug("closing the upstream stream failed", exc_info=True)
