"""One reply over a model's routes: the next route takes over if one fails before the first token.

The user sees a single stream: nothing from a failed attempt reaches them,
because an attempt only counts as served once it yields text, and events that
come before the first text (a usage or finish chunk) are held until then.
After the first token there is no failover: the error ends the reply with its
partial text, as with one route. Errors that are the user's (content policy,
context too long, a bad request) are not tried elsewhere: another gateway
would refuse them too.

Time to the first token is bounded twice: each attempt by its provider's
`first_token_timeout` (a silent route is left for the next one, never asked
again), and the whole reply by `start_deadline_s` (REPLY_START_DEADLINE_S).
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass

from .breaker import Breaker
from .wire.client import ChatRequest, Endpoint, UpstreamClient
from .wire.errors import UpstreamError
from .wire.events import TEXT_EVENTS, UpstreamEvent

log = logging.getLogger(__name__)
USER_ERRORS = frozenset({"content_blocked", "context_too_long", "bad_request"})
OK = "ok"  # an attempt that served the reply (gateways.models.Attempt.outcome)


@dataclass(frozen=True)
class RouteChoice:
    """One route as the runner needs it. The endpoint holds the decrypted key: never log it."""

    route_id: int | None
    provider_id: int
    provider_name: str
    upstream_id: str
    endpoint: Endpoint = dataclasses.field(repr=False)
    key: str = ""
    trial: bool = False  # the one trial call of a resting route (gateways.breaker): ended by the stream

    @property
    def label(self) -> str:
        return f"{self.provider_name} · {self.upstream_id}"


Record = Callable[[RouteChoice, str, int | None], Awaitable[None]]
# Called for an attempt that failed before its first token and was handed to the next route:
# the reply's own ledger row names only the route that served it.
FailedOver = Callable[[RouteChoice, UpstreamError], Awaitable[None]]
# Called once per attempt that has been silent for `waiting_after_s` (no first token yet):
# the chat tells the tab "still waiting for <gateway>".
Waiting = Callable[[RouteChoice], Awaitable[None]]


def fails_over(exc: UpstreamError) -> bool:
    """Whether another route may succeed where this one failed (not the user's own error)."""
    return exc.code not in USER_ERRORS


async def _no_record(choice: RouteChoice, outcome: str, ttft_ms: int | None) -> None:
    return None


async def _no_ledger(choice: RouteChoice, exc: UpstreamError) -> None:
    return None


def _out_of_time(seconds: float) -> UpstreamError:
    return UpstreamError("timeout", f"No gateway started this reply within {seconds:g} s; try again shortly.",
                         retryable=True)


class FailoverStream:
    """An async iterator of upstream events; `served` names the route that answered.

    `start_deadline_s` bounds the time to the first token over every attempt (retries and
    routes together); None leaves each attempt its provider's own first-token timeout.
    """

    def __init__(self, client: UpstreamClient, choices: list[RouteChoice], request: ChatRequest, *,
                 breaker: Breaker | None = None, record: Record = _no_record,
                 failed_over: FailedOver = _no_ledger, coalesce_s: float = 0.0, join_text: bool = False,
                 start_deadline_s: float | None = None, waiting: Waiting | None = None,
                 waiting_after_s: float = 5.0) -> None:
        self.client = client
        self.choices = choices
        self.request = request
        self.breaker = breaker or Breaker()
        self.record = record
        self.failed_over = failed_over
        self.coalesce_s = coalesce_s  # read the socket at most this often once text flows (UpstreamClient.stream)
        self.join_text = join_text  # a coalesced read's answer tokens as one delta (UpstreamClient.stream)
        self.start_deadline_s = start_deadline_s
        self.waiting = waiting
        self.waiting_after_s = waiting_after_s
        self.served: RouteChoice | None = choices[0] if len(choices) == 1 else None
        self._started = False
        self._gen = self._run()

    def __aiter__(self) -> FailoverStream:
        return self

    async def __anext__(self) -> UpstreamEvent:
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        if not self._started:  # stopped before the first attempt: give back a trial claimed at planning
            for choice in self.choices:
                if choice.trial:
                    await self.breaker.aend_trial(choice.key)
        await self._gen.aclose()

    async def _run(self) -> AsyncGenerator[UpstreamEvent, None]:
        self._started = True
        if not self.choices:
            raise UpstreamError("model_unavailable", "No provider serves this model right now; every route is "
                                "disabled or cooling down after repeated failures.")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_deadline_s if self.start_deadline_s is not None else None
        last: UpstreamError | None = None
        # The failed attempt handed to the next route: its own ledger row is written once that
        # route is really tried; if none is, it stays the reply's route (one row per call either way).
        handed: RouteChoice | None = None
        for index, choice in enumerate(self.choices):
            final = index == len(self.choices) - 1
            if index > 0 and await self.breaker.ais_open(choice.key):
                continue  # opened by another reply since this one was planned
            if _spent(deadline, loop.time()):
                break  # the reply's own deadline: no time left for another route
            if handed is not None and last is not None:
                await self.failed_over(handed, last)
                handed = None
            # With another route to go to, fail over at once instead of retrying here.
            endpoint = choice.endpoint if final else dataclasses.replace(choice.endpoint, max_retries=0)
            request = dataclasses.replace(self.request, model=choice.upstream_id)
            started, first, outcome = time.monotonic(), None, ""
            held: list[UpstreamEvent] = []
            notice = self._notice(choice)
            try:
                async for event in self.client.stream(endpoint, request, coalesce_s=self.coalesce_s,
                                                      join_text=self.join_text,
                                                      deadline=deadline):
                    if first is not None:
                        yield event
                    elif isinstance(event, TEXT_EVENTS):
                        first, self.served = time.monotonic(), choice
                        _cancel(notice)
                        for early in held:
                            yield early
                        held.clear()
                        yield event
                    else:
                        held.append(event)
                self.served = choice
                for early in held:  # an empty reply: still this route's answer
                    yield early
                outcome = OK
            except UpstreamError as exc:
                outcome = exc.code
                if first is None:  # only failures before the first token count against the route
                    await self._failed(choice, exc)
                if first is not None or not fails_over(exc) or final:
                    self.served = choice
                    if first is None and exc.code == "timeout" and _spent(deadline, loop.time()):
                        raise _out_of_time(self.start_deadline_s or 0) from exc
                    raise
                handed = choice
                log.info("route %s failed before the first token (%s); trying the next route",
                         choice.label, exc.code)
                last = exc
                continue
            finally:
                _cancel(notice)
                if choice.trial:
                    await self.breaker.aend_trial(choice.key)
                if not outcome and first is not None:
                    outcome = OK  # stopped by the user after the route had answered
                if outcome:
                    ttft = round((first - started) * 1000) if first is not None else None
                    await self.record(choice, outcome, ttft)
            await self.breaker.asuccess(choice.key)
            return
        if handed is not None:
            self.served = handed
        if last is not None and _spent(deadline, loop.time()):
            raise _out_of_time(self.start_deadline_s or 0) from last
        raise last or UpstreamError("upstream_unavailable", "Every route of this model is cooling down after "
                                    "repeated failures; try again shortly.", retryable=True)

    def _notice(self, choice: RouteChoice) -> asyncio.Task[None] | None:
        """Tell the tab after `waiting_after_s` of silence from this attempt (cancelled at its first token)."""
        if self.waiting is None:
            return None
        waiting = self.waiting

        async def later() -> None:
            await asyncio.sleep(self.waiting_after_s)
            try:
                await asyncio.shield(waiting(choice))  # a frame half-sent when the token lands
            except Exception:  # a notice that cannot go out must not end the reply
                log.warning("the waiting notice for %s could not be sent", choice.label, exc_info=True)

        return asyncio.get_running_loop().create_task(later())

    async def _failed(self, choice: RouteChoice, exc: UpstreamError) -> None:
        if fails_over(exc):
            retry_after = exc.retry_after if exc.code == "upstream_rate_limited" else None
            opened = await self.breaker.afailure(choice.key, retry_after)
            if opened is not None:
                log.warning("route %s cooled down for %.0f s after %s", choice.label, opened, exc.code)


def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None and not task.done():
        task.cancel()


def _spent(deadline: float | None, now: float) -> bool:
    """Whether the reply's start deadline has passed (a few ms early counts: timers fire a hair early)."""
    return deadline is not None and now >= deadline - 0.005
