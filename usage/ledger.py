"""Writing the ledger: one UsageRecord per upstream call, its cost fixed when written."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from channels.db import database_sync_to_async

from gateways.failover import FailedOver, RouteChoice
from gateways.models import Model
from gateways.tariffs import Rate, rate_on
from gateways.wire.errors import UpstreamError
from gateways.wire.usage import NormalizedUsage, refused

from .models import UsageRecord
from .money import cost_ticks


def row_cost(usage: NormalizedUsage, rate: Rate) -> int:
    """The cost a ledger row carries: ours from the price, except when the gateway's numbers
    do not reconcile and it stated what it charged; then its figure is the better one (UPSTREAM.md).

    Such a row keeps `reconciles=False` and its `stated_cost_ticks`, so reports can say so.
    """
    if not usage.reconciles and usage.stated_cost_ticks is not None:
        return usage.stated_cost_ticks
    return cost_ticks(usage, rate)


def ledger_row(
    user_id: int, model: Model, usage: NormalizedUsage, *, provider_id: int | None = None, **fields: Any
) -> UsageRecord:
    """One row per upstream call, its cost fixed now (row_cost).

    The price is the dated tariff of the provider that actually served the call
    (`provider_id`, default the model's) for this model, in effect today; the
    model's own price fields when there is none. The applied prices are stored
    on the row, so it can always be re-derived.
    """
    record = ledger_record(user_id, model, usage, provider_id=provider_id, **fields)
    record.save(force_insert=True)
    return record


def ledger_record(
    user_id: int, model: Model, usage: NormalizedUsage, *, provider_id: int | None = None, **fields: Any
) -> UsageRecord:
    """`ledger_row`'s row, priced, not stored yet: for a caller that stores it its own way (chat.rows)."""
    provider_id = model.provider_id if provider_id is None else provider_id
    rate = rate_on(provider_id, model)
    return UsageRecord(
        user_id=user_id, model=model, model_slug=model.slug, provider_id=provider_id,
        prompt_tokens=usage.prompt, cached_tokens=usage.cached, image_tokens=usage.image,
        completion_tokens=usage.visible_output, reasoning_tokens=usage.reasoning,
        billable_output_tokens=usage.billable_output, total_tokens=usage.total,
        estimated=usage.estimated, reconciles=usage.reconciles, convention=usage.convention,
        price_input=rate.input, price_cached_input=rate.cached_input,
        price_output=rate.output, cost_ticks=row_cost(usage, rate),
        stated_cost_ticks=usage.stated_cost_ticks, **fields,
    )


def _ledger_failed(user_id: int, conversation_id: UUID | None, model_slug: str, choice: RouteChoice,
                   fields: dict[str, Any]) -> None:
    model = Model.objects.filter(slug=model_slug).first()
    if model is None:  # removed from the catalog mid-reply: nothing to price against
        return
    ledger_row(user_id, model, refused(), provider_id=choice.provider_id, route_id=choice.route_id,
               upstream_model=choice.upstream_id, conversation_id=conversation_id,
               purpose=UsageRecord.Purpose.CHAT, outcome="error", **fields)


# Made once: a wrapper per reply cost about 11 µs of CPU before its upstream request (the Team API's fast path).
_FAILED_WRITES = {sensitive: database_sync_to_async(_ledger_failed, thread_sensitive=sensitive)
                  for sensitive in (True, False)}


def ledger_failed_attempts(
    user_id: int, conversation_id: UUID | None, model_slug: str, *, thread_sensitive: bool = True, **fields: Any
) -> FailedOver:
    """A `failed_over` callback for gateways.failover: the ledger gets every upstream call.

    Such an attempt was refused (or dropped) before any token, so its row has zero usage and no
    cost, like any refused call; it belongs to the conversation (if any) but to no message (the
    reply's row names the route that served it). `fields` go on the row too (the Team API's
    `source` and `token_id`).
    """
    write = _FAILED_WRITES[thread_sensitive]

    async def failed_over(choice: RouteChoice, exc: UpstreamError) -> None:
        await write(user_id, conversation_id, model_slug, choice, fields)

    return failed_over
