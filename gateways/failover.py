"""One reply over a model's routes: the next route takes over if one fails before the first token.

The user sees a single stream: nothing from a failed attempt reaches them,
because an attempt only counts as served once it yields text, and events that
come before the first text (a usage or finish chunk) are held until then.
After the first token there is no failover: the error ends the reply with its
partial text, as with one route. Errors that are the user's (content policy,
context too long, a bad request) are not tried elsewhere: another gateway
would refuse them too.
"""
from __future__ import annotations

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

    @property
    def label(self) -> str:
        return f"{self.provider_name} · {self.upstream_id}"


Record = Callable[[RouteChoice, str, int | None], Awaitable[None]]
# Called for an attempt that failed before its first token and was handed to the next route:
# the reply's own ledger row names only the route that served it.
FailedOver = Callable[[RouteChoice, UpstreamError], Awaitable[None]]


def fails_over(exc: UpstreamError) -> bool:
    """Whether another route may succeed where this one failed (not the user's own error)."""
    return exc.code not in USER_ERRORS


async def _no_record(choice: RouteChoice, outcome: str, ttft_ms: int | None) -> None:
    return None


async def _no_ledger(choice: RouteChoice, exc: UpstreamError) -> None:
    return None


class FailoverStream:
    """An async iterator of upstream events; `served` names the route that answered."""

    def __init__(self, client: UpstreamClient, choices: list[RouteChoice], request: ChatRequest, *,
                 breaker: Breaker | None = None, record: Record = _no_record,
                 failed_over: FailedOver = _no_ledger) -> None:
        self.client = client
        self.choices = choices
        self.request = request
        self.breaker = breaker or Breaker()
        self.record = record
        self.failed_over = failed_over
        self.served: RouteChoice | None = choices[0] if len(choices) == 1 else None
        self._gen = self._run()

    def __aiter__(self) -> FailoverStream:
        return self

    async def __anext__(self) -> UpstreamEvent:
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        await self._gen.aclose()

    async def _run(self) -> AsyncGenerator[UpstreamEvent, None]:
        if not self.choices:
            raise UpstreamError("model_unavailable", "No provider serves this model right now; every route is "
                                "disabled or cooling down after repeated failures.", retryable=True)
        last: UpstreamError | None = None
        # The failed attempt handed to the next route: its own ledger row is written once that
        # route is really tried; if none is, it stays the reply's route (one row per call either way).
        handed: RouteChoice | None = None
        for index, choice in enumerate(self.choices):
            final = index == len(self.choices) - 1
            if index > 0 and await self.breaker.ais_open(choice.key):
                continue  # opened by another reply since this one was planned
            if handed is not None and last is not None:
                await self.failed_over(handed, last)
                handed = None
            # With another route to go to, fail over at once instead of retrying here.
            endpoint = choice.endpoint if final else dataclasses.replace(choice.endpoint, max_retries=0)
            request = dataclasses.replace(self.request, model=choice.upstream_id)
            started, first, outcome = time.monotonic(), None, ""
            held: list[UpstreamEvent] = []
            try:
                async for event in self.client.stream(endpoint, request):
                    if first is not None:
                        yield event
                    elif isinstance(event, TEXT_EVENTS):
                        first, self.served = time.monotonic(), choice
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
                if first is not None or not fails_over(exc) or final:
                    self.served = choice
                    await self._failed(choice, exc)
                    raise
                await self._failed(choice, exc)
                handed = choice
                log.info("route %s failed before the first token (%s); trying the next route",
                         choice.label, exc.code)
                last = exc
                continue
            finally:
                if not outcome and first is not None:
                    outcome = OK  # stopped by the user after the route had answered
                if outcome:
                    ttft = round((first - started) * 1000) if first is not None else None
                    await self.record(choice, outcome, ttft)
            await self.breaker.asuccess(choice.key)
            return
        if handed is not None:
            self.served = handed
        raise last or UpstreamError("model_unavailable", "Every route of this model is cooling down after "
                                    "repeated failures; try again shortly.", retryable=True)

    async def _failed(self, choice: RouteChoice, exc: UpstreamError) -> None:
        if fails_over(exc):
            retry_after = exc.retry_after if exc.code == "upstream_rate_limited" else None
            opened = await self.breaker.afailure(choice.key, retry_after)
            if opened is not None:
                log.warning("route %s cooled down for %.0f s after %s", choice.label, opened, exc.code)
