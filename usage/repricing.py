"""Re-pricing: recompute the cost of ledger rows in a date range from the dated prices.

A ledger row's cost is fixed when it is written; this is the one explicit way
to change it (a price entered late, a gateway's correction). Every run is
logged (RepriceRun, and the log), and the rollups of the days it changed are
rebuilt in the same call, so reports agree with the ledger afterwards.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from gateways.tariffs import Rate, pick, rates_for
from gateways.wire.usage import NormalizedUsage

from .aggregates import day_span
from .ledger import row_cost
from .models import RepriceRun, UsageRecord
from .money import format_usd
from .rollups import recompute_days

log = logging.getLogger(__name__)
FIELDS = ("price_input", "price_cached_input", "price_output", "cost_ticks")


@dataclass
class Outcome:
    run: RepriceRun
    days: list[dt.date] = field(default_factory=list)
    by_model: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # slug -> rows, old, new


def _usage_of(row: UsageRecord) -> NormalizedUsage:
    return NormalizedUsage(
        prompt=row.prompt_tokens, cached=row.cached_tokens, image=row.image_tokens,
        visible_output=row.completion_tokens, reasoning=row.reasoning_tokens,
        billable_output=row.billable_output_tokens, total=row.total_tokens,
        reconciles=row.reconciles, convention=row.convention, estimated=row.estimated,
        stated_cost_ticks=row.stated_cost_ticks,
    )


def reprice(
    first: dt.date, last: dt.date, *, provider: str = "", model_slug: str = "", dry_run: bool = False,
    invoked_by: str = "",
) -> Outcome:
    """Re-price the ledger rows of [first, last] (optionally one provider / model); log and roll up."""
    start, end = day_span(first, last)
    rows = UsageRecord.objects.filter(created_at__gte=start, created_at__lt=end).exclude(model=None)
    rows = rows.exclude(provider=None)
    if provider:
        rows = rows.filter(provider__name=provider)
    if model_slug:
        rows = rows.filter(model_slug=model_slug)
    run = RepriceRun(date_from=first, date_to=last, provider=provider, model_slug=model_slug, dry_run=dry_run,
                     invoked_by=invoked_by)
    with transaction.atomic():
        records = list(rows.select_for_update().order_by("id"))
        dated = rates_for({(r.provider_id, r.model_id) for r in records})  # type: ignore[misc]
        changed: list[UsageRecord] = []
        days: set[dt.date] = set()
        per_model: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for record in records:
            run.rows_seen += 1
            day = timezone.localtime(record.created_at).date()
            rate = pick(dated.get((record.provider_id, record.model_id), []), day)  # type: ignore[arg-type]
            if rate is None:
                continue  # no dated price for this pair: the row keeps what it was written with
            new_cost = row_cost(_usage_of(record), rate)
            old = (record.price_input, record.price_cached_input, record.price_output, record.cost_ticks)
            if old == (rate.input, rate.cached_input, rate.output, new_cost):
                continue
            run.rows_changed += 1
            run.old_cost_ticks += record.cost_ticks
            run.new_cost_ticks += new_cost
            stats = per_model[record.model_slug]
            stats[0], stats[1], stats[2] = stats[0] + 1, stats[1] + record.cost_ticks, stats[2] + new_cost
            _apply(record, rate, new_cost)
            changed.append(record)
            days.add(day)
        if not dry_run and changed:
            UsageRecord.objects.bulk_update(changed, FIELDS, batch_size=1000)
        run.save()
    if not dry_run and days:
        recompute_days(days)
    log.warning(
        "reprice %s..%s%s%s%s: %d of %d ledger rows changed, cost %s -> %s USD (run %d, by %s)",
        first, last, f" provider={provider}" if provider else "", f" model={model_slug}" if model_slug else "",
        " (dry run, nothing written)" if dry_run else "", run.rows_changed, run.rows_seen,
        format_usd(run.old_cost_ticks), format_usd(run.new_cost_ticks), run.pk, invoked_by or "?",
    )
    return Outcome(run, sorted(days), {k: (v[0], v[1], v[2]) for k, v in sorted(per_model.items())})


def _apply(record: UsageRecord, rate: Rate, new_cost: int) -> None:
    record.price_input, record.price_cached_input, record.price_output = rate.input, rate.cached_input, rate.output
    record.cost_ticks = new_cost
