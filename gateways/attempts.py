"""The attempts log: one row per upstream call attempt, written cheaply, read by the health page."""
from __future__ import annotations

from channels.db import database_sync_to_async
from django.utils import timezone

from .failover import Record, RouteChoice
from .models import Attempt


def _write(choice: RouteChoice, model_slug: str, outcome: str, ttft_ms: int | None) -> None:
    Attempt.objects.create(provider_id=choice.provider_id, route_id=choice.route_id, model_slug=model_slug,
                           outcome=outcome[:40], ttft_ms=ttft_ms, at=timezone.now())


def recorder(model_slug: str, *, thread_sensitive: bool = True) -> Record:
    """A `record` callback for FailoverStream: one INSERT per attempt, off the event loop.

    An HTTP view passes thread_sensitive=False: Django gives each request its own thread for
    thread-sensitive work, and with it a new database connection.
    """
    write = database_sync_to_async(_write, thread_sensitive=thread_sensitive)

    async def record(choice: RouteChoice, outcome: str, ttft_ms: int | None) -> None:
        await write(choice, model_slug, outcome, ttft_ms)

    return record
