"""The sums every rollup and report is made of, as ORM aggregates over the ledger or over rollups.

One definition for both sides, so a report through rollups and a raw
aggregation of the ledger add up the same columns the same way.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import BigIntegerField, Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce, Round
from django.utils import timezone

# Rollup column -> ledger column it sums.
TOKEN_SUMS = {
    "prompt_tokens": "prompt_tokens",
    "cached_tokens": "cached_tokens",
    "image_tokens": "image_tokens",
    "completion_tokens": "completion_tokens",
    "reasoning_tokens": "reasoning_tokens",
    "billable_output_tokens": "billable_output_tokens",
    "total_tokens": "total_tokens",
}
# Every summed column of UsageDaily, in a stable order.
COLUMNS = (
    "calls", "estimated_calls", "unreconciled_calls", "failed_calls", *TOKEN_SUMS, "cost_ticks",
    "stated_calls", "stated_cost_ticks", "cost_ticks_of_stated", "cached_saving_pusd",
)
_MICRO = Value(1_000_000)


def _sum(expression: Any, **extra: Any) -> Coalesce:
    return Coalesce(Sum(expression, **extra), Value(0), output_field=BigIntegerField())


def _named(sums: dict[str, Any]) -> dict[str, Any]:
    """Aggregate names must not shadow the summed fields: `sum_<column>`."""
    return {f"sum_{name}": expression for name, expression in sums.items()}


def ledger_sums() -> dict[str, Any]:
    """Aggregates over usage.UsageRecord rows, one per UsageDaily column (as `sum_<column>`)."""
    saving = F("cached_tokens") * (Round(F("price_input") * _MICRO) - Round(F("price_cached_input") * _MICRO))
    return _named({
        "calls": Count("id"),
        "estimated_calls": Count("id", filter=Q(estimated=True)),
        "unreconciled_calls": Count("id", filter=Q(reconciles=False)),
        "failed_calls": Count("id", filter=~Q(outcome="complete")),
        **{name: _sum(column) for name, column in TOKEN_SUMS.items()},
        "cost_ticks": _sum("cost_ticks"),
        "stated_calls": Count("stated_cost_ticks"),
        "stated_cost_ticks": _sum("stated_cost_ticks"),
        "cost_ticks_of_stated": _sum("cost_ticks", filter=Q(stated_cost_ticks__isnull=False)),
        "cached_saving_pusd": _sum(saving),
    })


def rollup_sums() -> dict[str, Any]:
    """Aggregates over usage.UsageDaily rows."""
    return _named({name: _sum(name) for name in COLUMNS})


def as_ints(row: dict[str, Any]) -> dict[str, int]:
    """Database sums as Python ints (PostgreSQL answers numeric for sums of bigint)."""
    return {name: int(row.get(f"sum_{name}") or 0) for name in COLUMNS}


def day_start(day: dt.date) -> dt.datetime:
    """Midnight of `day` in the server's time zone, as an aware datetime."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def day_span(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start of `first`, start of the day after `last`) in the server's time zone."""
    return day_start(first), day_start(last + dt.timedelta(days=1))
