"""Rollups equal the ledger: randomized inserts, late rows, recomputed days; reports equal raw aggregation."""
from __future__ import annotations

import datetime as dt
import random

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import tokens
from usage import reports, rollups
from usage.aggregates import COLUMNS, as_ints, ledger_sums
from usage.models import UsageDaily, UsageRecord

pytestmark = pytest.mark.django_db

SLUGS = ["grok-4-fast-reasoning", "grok-code-fast-1", "grok-4-0709", "grok-3-mini"]


def _token_of(user):  # type: ignore[no-untyped-def]
    from accounts.models import ApiToken

    found = ApiToken.objects.filter(user=user).first()
    return found or tokens.create(user, f"{user.username}'s script")[0]


def _insert_random(rng: random.Random, users, record, today: dt.date, count: int) -> None:  # type: ignore[no-untyped-def]
    for _ in range(count):
        prompt = rng.randint(1, 5000)
        user = rng.choice(users)
        api = rng.random() < 0.3  # a third of the calls come through the Team API, with the user's token
        record(user, rng.choice(SLUGS), today - dt.timedelta(days=rng.randint(0, 12)),
               source="api" if api else "chat", token_id=_token_of(user).pk if api else None,
               hour=rng.randint(0, 23), prompt=prompt, cached=rng.randint(0, prompt), visible=rng.randint(0, 900),
               reasoning=rng.choice([0, 0, rng.randint(1, 3000)]), estimated=rng.random() < 0.1,
               reconciles=rng.random() > 0.05, stated=rng.choice([None, rng.randint(1, 10**7)]),
               purpose=rng.choice(["chat", "chat", "title"]), outcome=rng.choice(["complete", "complete", "error"]))


KEYS = ("user_id", "provider_id", "model_slug", "purpose", "source", "token_id")


def _rollup_by_day_key() -> dict[tuple, dict[str, int]]:
    return {(r.day, *(getattr(r, k) for k in KEYS)): {c: getattr(r, c) for c in COLUMNS}
            for r in UsageDaily.objects.all()}


def _ledger_by_day_key() -> dict[tuple, dict[str, int]]:
    from django.db.models.functions import TruncDate

    rows = (UsageRecord.objects.annotate(day=TruncDate("created_at")).order_by()
            .values("day", *KEYS).annotate(**ledger_sums()))
    return {(r["day"], *(r[k] for k in KEYS)): as_ints(r) for r in rows}


def test_rollups_equal_ledger_sums_after_random_and_late_inserts(make_user, record, today) -> None:
    rng = random.Random(5)
    users = [make_user(f"user{i}") for i in range(4)]
    _insert_random(rng, users, record, today, 150)
    rollups.backfill(today - dt.timedelta(days=12), today)
    assert _rollup_by_day_key() == _ledger_by_day_key()

    # Late rows: written now, dated days that are already rolled up; then more random ones.
    late_day = today - dt.timedelta(days=9)
    late = record(users[0], "grok-4-0709", late_day, prompt=777, visible=33)
    _insert_random(rng, users, record, today, 40)
    rebuilt = rollups.refresh()
    assert late_day in rebuilt
    assert _rollup_by_day_key() == _ledger_by_day_key()
    day_rows = UsageDaily.objects.get(day=late_day, user=users[0], model_slug="grok-4-0709", purpose="chat")
    assert day_rows.prompt_tokens >= 777 and late.pk <= rollups.watermark()


def test_recomputing_a_day_gives_the_same_rows(make_user, record, today) -> None:
    users = [make_user("ann"), make_user("ben")]
    _insert_random(random.Random(7), users, record, today, 80)
    rollups.refresh()
    day = today - dt.timedelta(days=3)
    rollups.backfill(today - dt.timedelta(days=12), today)
    before = _rollup_by_day_key()
    rollups.recompute_days([day, day])
    call_command("backfill_usage", "--from", str(day), "--to", str(today), stdout=open("/dev/null", "w"))
    assert _rollup_by_day_key() == before
    assert UsageDaily.objects.filter(day=day).count() == len([k for k in before if k[0] == day])


@pytest.mark.parametrize("group_by", [None, "user", "model", "provider", "day", "user_model", "day_model", "purpose",
                                      "source", "token"])
def test_reports_equal_raw_ledger_aggregation_including_today(make_user, record, today, group_by) -> None:
    rng = random.Random(11)
    users = [make_user(f"u{i}") for i in range(3)]
    _insert_random(rng, users, record, today, 90)
    rollups.refresh()
    _insert_random(rng, users, record, today, 30)  # past the watermark: not rolled up yet
    rollups.refresh()
    record(users[1], "grok-3-mini", today - dt.timedelta(days=2), prompt=4321)  # late, not rolled up
    first = today - dt.timedelta(days=10)
    exact = reports.report(first, today, group_by)
    raw = reports.raw_rows(first, today, group_by)
    assert [(r.key, r.sums) for r in exact.rows] == [(r.key, r.sums) for r in raw.rows]
    assert exact.totals.sums == raw.totals.sums and exact.totals.calls > 0


@pytest.mark.parametrize("group_by", ["day", "model", "token"])
def test_reports_narrowed_to_a_source_or_a_token_equal_the_ledger(make_user, record, today, group_by) -> None:
    rng = random.Random(13)
    users = [make_user(f"n{i}") for i in range(3)]
    _insert_random(rng, users, record, today, 90)
    rollups.refresh()
    _insert_random(rng, users, record, today, 20)
    first, token = today - dt.timedelta(days=10), _token_of(users[0]).pk
    for narrow in ({"source": "api"}, {"source": "chat"}, {"token_id": token}, {"user_id": users[0].pk,
                                                                              "source": "api"}):
        exact = reports.report(first, today, group_by, **narrow)
        raw = reports.raw_rows(first, today, group_by, **narrow)
        assert [(r.key, r.sums) for r in exact.rows] == [(r.key, r.sums) for r in raw.rows]
        assert exact.totals.calls > 0
    api = reports.report(first, today, "source", token_id=token)
    assert [r.key for r in api.rows] == ["api"] and api.rows[0].label == "Team API"
    by_token = reports.report(first, today, "token")
    assert {r.label for r in by_token.rows} >= {"n0 · n0's script", "No token (the chat)"}
    assert reports.report(first, today, "token", user_id=users[0].pk).rows[0].label in ("n0's script",
                                                                                       "No token (the chat)")


def test_a_report_costs_a_constant_number_of_queries(make_user, record, today) -> None:
    users = [make_user(f"q{i}") for i in range(3)]
    _insert_random(random.Random(3), users, record, today, 60)
    rollups.refresh()
    counts = []
    for days in (1, 5, 12):
        with CaptureQueriesContext(connection) as queries:
            reports.report(today - dt.timedelta(days=days), today, "user")
        counts.append(len(queries))
    assert counts[0] == counts[1] == counts[2] <= 4  # watermark, rollups, ledger, usernames


def test_a_bad_range_is_refused(today) -> None:
    with pytest.raises(ValueError, match="after"):
        reports.report(today, today - dt.timedelta(days=1))
    with pytest.raises(ValueError, match="at most"):
        reports.report(today - dt.timedelta(days=400), today)


def test_yesterday_is_rebuilt_only_in_the_hour_after_midnight(make_user, record, today) -> None:
    from usage.aggregates import day_start
    from usage.models import RollupState

    ann = make_user("ann")
    yesterday = today - dt.timedelta(days=1)
    record(ann, "grok-3-mini", yesterday, prompt=100)
    rollups.refresh()
    # A row that committed a moment after a newer one was rolled up: under the watermark, not in the rollups.
    straggler = record(ann, "grok-3-mini", yesterday, hour=23, prompt=50)
    RollupState.objects.update(last_record_id=straggler.pk, updated_at=day_start(today) + dt.timedelta(minutes=2))
    assert UsageDaily.objects.get(day=yesterday).prompt_tokens == 100
    assert rollups.refresh() == [yesterday, today]  # the first refresh after midnight settles yesterday
    assert _rollup_by_day_key() == _ledger_by_day_key()
    RollupState.objects.update(updated_at=day_start(today) + dt.timedelta(hours=2))
    assert rollups.refresh() == [today]  # later on, only today
