"""Daily rollups of the ledger: incremental, idempotent, and exact together with the ledger.

Invariant: for every day, the UsageDaily rows are the sums of that day's
ledger rows whose id is at most the watermark (RollupState.last_record_id).
`refresh` moves the watermark to the newest ledger row and rebuilds exactly
the days that rows past the old watermark fall on (late rows included), plus
today, and yesterday for an hour after midnight (a row whose transaction
committed after a newer one was already rolled up can only be a few moments
old; reports read today from the ledger anyway). A day is always rebuilt
whole, delete + insert in one transaction, so recomputing it changes nothing.
Reports add the ledger rows past the watermark, so they never miss a call.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from .aggregates import COLUMNS, day_span, day_start, ledger_sums, rollup_sums
from .models import RollupState, Sums, UsageDaily, UsageDailyModel, UsageDailyUser, UsageRecord

log = logging.getLogger(__name__)
GROUP = ("user_id", "provider_id", "model_slug", "purpose", "source", "token_id")
# How long after midnight yesterday keeps being rebuilt, for rows committed a moment late.
SETTLE = dt.timedelta(hours=1)


def _state_locked() -> RollupState:
    state = RollupState.objects.select_for_update().filter(pk=1).first()
    if state is None:
        RollupState.objects.get_or_create(pk=1)
        state = RollupState.objects.select_for_update().get(pk=1)
    return state


def _insert_select(table: type[Sums], day: dt.date, keys: tuple[str, ...], grouped: QuerySet[Any]) -> int:
    """INSERT INTO <table> (day, keys..., sums...) SELECT <day>, * FROM (<grouped query>): no round trip per row."""
    names = list(grouped.query.values_select) + list(grouped.query.annotation_select)
    expected = [*keys, *(f"sum_{c}" for c in COLUMNS)]
    assert [n if n != "model_ref" else "model_id" for n in names] == expected, names
    sql, params = grouped.query.sql_with_params()
    quote = connection.ops.quote_name
    columns = ", ".join(quote(table._meta.get_field(k.removesuffix("_id")).column if k.endswith("_id") else k)
                        for k in ("day", *keys, *COLUMNS))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(table._meta.db_table)} ({columns}) SELECT %s, sub.* FROM ({sql}) sub",
                       (connection.ops.adapt_datefield_value(day), *params))
        return cursor.rowcount


def _rebuild(day: dt.date, upto_id: int) -> int:
    """Replace the day's rollups with the sums of its ledger rows up to `upto_id`; the number of rows."""
    start, end = day_span(day, day)
    for table in (UsageDaily, UsageDailyUser, UsageDailyModel):
        table.objects.filter(day=day).delete()
    ledger = (UsageRecord.objects.filter(created_at__gte=start, created_at__lt=end, id__lte=upto_id)
              .order_by().values(*GROUP).annotate(model_ref=Max("model_id"), **ledger_sums()))
    written = _insert_select(UsageDaily, day, (*GROUP, "model_id"), ledger)
    daily = UsageDaily.objects.filter(day=day).order_by()
    _insert_select(UsageDailyUser, day, ("user_id",), daily.values("user_id").annotate(**rollup_sums()))
    by_model = daily.values("provider_id", "model_slug", "purpose").annotate(model_ref=Max("model_id"),
                                                                               **rollup_sums())
    _insert_select(UsageDailyModel, day, ("provider_id", "model_slug", "purpose", "model_id"), by_model)
    return written


def recompute_days(days: Iterable[dt.date]) -> int:
    """Rebuild these days at the current watermark, one transaction per day; the number of rollup rows."""
    written = 0
    for day in sorted(set(days)):
        with transaction.atomic():
            state = _state_locked()
            written += _rebuild(day, state.last_record_id)
    return written


def _days_of(ids_after: int, ids_upto: int) -> set[dt.date]:
    query = (UsageRecord.objects.filter(id__gt=ids_after, id__lte=ids_upto).order_by()
             .annotate(day=TruncDate("created_at")).values_list("day", flat=True).distinct())
    return set(query)


def refresh() -> list[dt.date]:
    """Roll up everything written since the last run; the days rebuilt. Safe to run concurrently."""
    with transaction.atomic():
        state = _state_locked()
        newest = UsageRecord.objects.aggregate(m=Max("id"))["m"] or 0
        today = timezone.localdate()
        days = {today}
        if state.updated_at is None or state.updated_at < day_start(today) + SETTLE:
            days.add(today - dt.timedelta(days=1))
        if newest > state.last_record_id:
            days |= _days_of(state.last_record_id, newest)
        for day in sorted(days):
            _rebuild(day, newest)
        state.last_record_id = newest
        state.save(update_fields=["last_record_id", "updated_at"])
    log.info("usage rollups refreshed up to record %d: %d day(s)", newest, len(days))
    return sorted(days)


def backfill(first: dt.date, last: dt.date) -> int:
    """Bring the watermark up to date, then rebuild every day of [first, last]."""
    done = set(refresh())
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    return recompute_days(day for day in days if day not in done) + (
        UsageDaily.objects.filter(day__in=[d for d in days if d in done]).count())


def watermark() -> int:
    state = RollupState.objects.filter(pk=1).first()
    return state.last_record_id if state else 0


__all__ = ["COLUMNS", "backfill", "recompute_days", "refresh", "watermark"]
