"""Ledger rows on chosen days, without going through a reply (the reply paths have their own tests)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from usage.aggregates import day_start


@pytest.fixture
def models(emulator_provider):  # type: ignore[no-untyped-def]
    from gateways.models import Model

    return {m.slug: m for m in Model.objects.select_related("provider")}


@pytest.fixture
def record(models) -> Callable[..., Any]:  # type: ignore[no-untyped-def]
    """Write a ledger row through `ledger_row` (dated price, cost fixed), then date it `day` at `hour`."""
    from gateways.wire.usage import NormalizedUsage
    from usage.ledger import ledger_row

    def make(user: Any, slug: str = "grok-4-fast-reasoning", day: dt.date | None = None, *, hour: int = 12,
             prompt: int = 1000, cached: int = 0, visible: int = 100, reasoning: int = 0, stated: int | None = None,
             estimated: bool = False, reconciles: bool = True, purpose: str = "chat", outcome: str = "complete",
             **fields: Any) -> Any:
        usage = NormalizedUsage(prompt=prompt, cached=cached, image=0, visible_output=visible, reasoning=reasoning,
                                billable_output=visible + reasoning, total=prompt + visible + reasoning,
                                reconciles=reconciles, convention="A", estimated=estimated, stated_cost_ticks=stated)
        row = ledger_row(user.pk, models[slug], usage, purpose=purpose, outcome=outcome, **fields)
        if day is not None:
            when = day_start(day) + dt.timedelta(hours=hour)
            type(row).objects.filter(pk=row.pk).update(created_at=when)
            row.created_at = when
        return row

    return make


@pytest.fixture
def today() -> dt.date:
    return timezone.localdate()

