"""The attempts log: one row per upstream call attempt, written cheaply, read by the health page."""
from __future__ import annotations

from uuid import UUID

from channels.db import database_sync_to_async
from django.utils import timezone

from chat.models import Model, UsageRecord
from chat.services import ledger_row
from chat.upstream.errors import UpstreamError
from chat.upstream.usage import refused

from .failover import FailedOver, Record, RouteChoice
from .models import Attempt


def _write(choice: RouteChoice, model_slug: str, outcome: str, ttft_ms: int | None) -> None:
    Attempt.objects.create(provider_id=choice.provider_id, route_id=choice.route_id, model_slug=model_slug,
                           outcome=outcome[:40], ttft_ms=ttft_ms, at=timezone.now())


def recorder(model_slug: str) -> Record:
    """A `record` callback for FailoverStream: one INSERT per attempt, off the event loop."""
    write = database_sync_to_async(_write)

    async def record(choice: RouteChoice, outcome: str, ttft_ms: int | None) -> None:
        await write(choice, model_slug, outcome, ttft_ms)

    return record


def _ledger_failed(user_id: int, conversation_id: UUID, model_slug: str, choice: RouteChoice) -> None:
    model = Model.objects.filter(slug=model_slug).first()
    if model is None:  # removed from the catalog mid-reply: nothing to price against
        return
    ledger_row(user_id, model, refused(), provider_id=choice.provider_id, route_id=choice.route_id,
               upstream_model=choice.upstream_id, conversation_id=conversation_id,
               purpose=UsageRecord.Purpose.CHAT, outcome="error")


def ledger_failed_attempts(user_id: int, conversation_id: UUID, model_slug: str) -> FailedOver:
    """A `failed_over` callback: the ledger gets every upstream call, failed-over attempts included.

    Such an attempt was refused (or dropped) before any token, so its row has zero usage and no
    cost, like any refused call; it belongs to the conversation but to no message (the reply's
    row names the route that served it).
    """
    write = database_sync_to_async(_ledger_failed)

    async def failed_over(choice: RouteChoice, exc: UpstreamError) -> None:
        await write(user_id, conversation_id, model_slug, choice)

    return failed_over
