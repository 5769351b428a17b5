"""Rollups and reports on PostgreSQL: days cut in the deployment's time zone, rollups equal to the ledger."""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from gateways.models import Price
from gateways.wire.usage import normalize
from usage import reports, rollups
from usage.ledger import ledger_row
from usage.models import UsageDaily, UsageRecord
from usage.repricing import reprice
from usage.tasks import refresh_rollups

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
LA = "America/Los_Angeles"


def _row(user, model, when: dt.datetime, prompt: int = 1000, **extra):  # type: ignore[no-untyped-def]
    row = ledger_row(user.pk, model, normalize({"prompt_tokens": prompt, "completion_tokens": 100,
                                                "prompt_tokens_details": {"cached_tokens": prompt // 2},
                                                "total_tokens": prompt + 100, **extra}))
    UsageRecord.objects.filter(pk=row.pk).update(created_at=when)
    return row


@pytest.fixture
def model(emulator_provider):  # type: ignore[no-untyped-def]
    from gateways.models import Model

    return Model.objects.get(slug="grok-4-fast-reasoning")


def test_days_are_cut_in_the_deployments_time_zone(user, model) -> None:
    assert connection.vendor == "postgresql"
    late_evening = dt.datetime(2026, 3, 10, 6, 30, tzinfo=dt.UTC)  # 23:30 on 9 March in Los Angeles
    after_midnight = dt.datetime(2026, 3, 10, 7, 30, tzinfo=dt.UTC)  # 00:30 on 10 March there
    _row(user, model, late_evening, prompt=1000)
    _row(user, model, after_midnight, prompt=3000)
    with timezone.override(LA):
        rollups.backfill(dt.date(2026, 3, 8), dt.date(2026, 3, 11))
        by_day = reports.report(dt.date(2026, 3, 8), dt.date(2026, 3, 11), "day")
        assert [(r.key, r.prompt_tokens) for r in by_day.rows] == [("2026-03-09", 1000), ("2026-03-10", 3000)]
        assert sorted(UsageDaily.objects.values_list("day", "prompt_tokens")) == [
            (dt.date(2026, 3, 9), 1000), (dt.date(2026, 3, 10), 3000)]
        assert reports.report(dt.date(2026, 3, 10), dt.date(2026, 3, 10)).totals.calls == 1
    with timezone.override("UTC"):
        assert [(r.key, r.calls) for r in reports.raw_rows(dt.date(2026, 3, 8), dt.date(2026, 3, 11), "day").rows] \
            == [("2026-03-10", 2)]


@pytest.mark.parametrize("group_by", [None, "user", "model", "provider", "day", "user_model", "day_model"])
def test_reports_equal_the_raw_ledger_on_postgresql(make_user, model, group_by) -> None:
    rng = random.Random(2026)
    users = [make_user(f"pg{i}") for i in range(4)]
    with timezone.override(LA):
        today = timezone.localdate()
        now = timezone.now()
        for step in range(120):
            when = now - dt.timedelta(days=rng.randint(0, 20), minutes=rng.randint(0, 1440))
            _row(rng.choice(users), model, when, prompt=rng.randint(1, 9000))
            if step == 80:
                assert refresh_rollups() >= 2  # the beat task, mid-way: later rows are past the watermark
        Price.objects.create(provider=model.provider, model=model, effective_from=today - dt.timedelta(days=3),
                             input=Decimal("0.25"), cached_input=Decimal("0.05"), output=Decimal("0.55"))
        changed = reprice(today - dt.timedelta(days=3), today).run.rows_changed  # rebuilds the days it changed
        assert changed == UsageRecord.objects.filter(price_input=Decimal("0.25")).count() > 0
        first = today - dt.timedelta(days=21)
        exact = reports.report(first, today, group_by)
        raw = reports.raw_rows(first, today, group_by)
        assert [(r.key, r.sums) for r in exact.rows] == [(r.key, r.sums) for r in raw.rows]
        assert exact.totals.calls == 120


def test_rollups_equal_the_ledger_after_late_rows_and_a_recomputed_day(make_user, model) -> None:
    from django.db.models.functions import TruncDate

    from usage.aggregates import COLUMNS, as_ints, ledger_sums

    def ledger() -> dict[tuple, dict[str, int]]:
        rows = (UsageRecord.objects.annotate(day=TruncDate("created_at")).order_by()
                .values("day", "user_id", "provider_id", "model_slug", "purpose").annotate(**ledger_sums()))
        return {(r["day"], r["user_id"], r["provider_id"], r["model_slug"], r["purpose"]): as_ints(r) for r in rows}

    def rolled() -> dict[tuple, dict[str, int]]:
        return {(r.day, r.user_id, r.provider_id, r.model_slug, r.purpose): {c: getattr(r, c) for c in COLUMNS}
                for r in UsageDaily.objects.all()}

    rng = random.Random(12)
    users = [make_user(f"late{i}") for i in range(3)]
    now = timezone.now()
    for _ in range(60):
        _row(rng.choice(users), model, now - dt.timedelta(days=rng.randint(0, 9), minutes=rng.randint(0, 1440)))
    refresh_rollups()
    assert rolled() == ledger()
    late = now - dt.timedelta(days=8)
    for _ in range(5):  # late rows: written now, dated a day long rolled up
        _row(rng.choice(users), model, late, prompt=rng.randint(1, 500))
    refresh_rollups()
    assert rolled() == ledger()
    before = rolled()
    rollups.recompute_days([timezone.localdate(late)])
    assert rolled() == before
