"""The attempts log: one row per upstream call attempt, written cheaply, read by the health page."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from django.utils import timezone

from .failover import Record, RouteChoice
from .models import Attempt


@dataclass(frozen=True)
class Attempted:
    """One attempt as the failover stream reported it, waiting to be written with its reply's ending."""

    provider_id: int
    route_id: int | None
    model_slug: str
    outcome: str
    ttft_ms: int | None
    at: dt.datetime = field(default_factory=timezone.now)


def _write(choice: RouteChoice, model_slug: str, outcome: str, ttft_ms: int | None) -> None:
    Attempt.objects.create(provider_id=choice.provider_id, route_id=choice.route_id, model_slug=model_slug,
                           outcome=outcome[:40], ttft_ms=ttft_ms, at=timezone.now())


def record_attempts(attempts: tuple[Attempted, ...] | list[Attempted]) -> None:
    """Write buffered attempts (sync, inside the caller's transaction): one INSERT for them all."""
    if attempts:
        Attempt.objects.bulk_create(attempt_rows(attempts))


def attempt_rows(attempts: tuple[Attempted, ...] | list[Attempted]) -> list[Attempt]:
    """The rows `record_attempts` writes, not stored yet (for a caller that stores them its own way)."""
    return [Attempt(provider_id=a.provider_id, route_id=a.route_id, model_slug=a.model_slug,
                    outcome=a.outcome[:40], ttft_ms=a.ttft_ms, at=a.at) for a in attempts]


def recorder(model_slug: str, *, thread_sensitive: bool = True) -> Record:
    """A `record` callback for FailoverStream: one INSERT per attempt, off the event loop.

    An HTTP view passes thread_sensitive=False: Django gives each request its own thread for
    thread-sensitive work, and with it a new database connection.
    """
    write = database_sync_to_async(_write, thread_sensitive=thread_sensitive)

    async def record(choice: RouteChoice, outcome: str, ttft_ms: int | None) -> None:
        await write(choice, model_slug, outcome, ttft_ms)

    return record


def buffered(model_slug: str, into: list[Attempted]) -> Record:
    """A `record` callback that keeps attempts in `into`, for the reply's ending to write (no thread hop of its own)."""

    async def record(choice: RouteChoice, outcome: str, ttft_ms: int | None) -> None:
        into.append(Attempted(choice.provider_id, choice.route_id, model_slug, outcome, ttft_ms))

    return record
