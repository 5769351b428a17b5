"""Usage reports through rollups vs raw ledger aggregation, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/grokweb_bench .venv/bin/python bench/report.py
    ... bench/report.py --rows 200000      # a quick run
    ... bench/report.py --reuse            # keep the ledger loaded by an earlier run of the same size

Creates the database if needed, migrates it, loads `--rows` ledger rows (200
users, 15 models, 90 days) with one INSERT ... SELECT generate_series, builds
the daily rollups (timed), then runs last month's report grouped by user, by
model and by day, through rollups (usage.reports.report) and through raw
ledger aggregation (usage.reports.raw_rows) in the same run: median server
time of several runs, queries per report, speed-up. Finally it adds one
day's worth of new rows and times the incremental rollup (the beat task).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grokweb.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.pop("REDIS_URL", None)

USERS, MODELS, DAYS = 200, 15, 90


def _ensure_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _setup_world() -> tuple[list[int], list[tuple[int, str, str, str, str]], int]:
    """200 users, one provider, 15 models with dated prices; (user ids, model rows, provider id)."""
    from decimal import Decimal

    from accounts.models import User
    from gateways import catalog
    from gateways.models import Model, Provider

    provider, _ = Provider.objects.get_or_create(
        name="Bench gateway", defaults={"kind": Provider.Kind.XAI, "base_url": "http://127.0.0.1:9/v1"})
    for i in range(USERS - User.objects.filter(username__startswith="bench-").count()):
        User.objects.create(username=f"bench-{User.objects.count():03d}-{i}", password="!")
    users = list(User.objects.filter(username__startswith="bench-").order_by("id").values_list("id", flat=True))
    entries = list(catalog.CATALOG)
    for i in range(MODELS):
        entry = entries[i % len(entries)]
        slug = entry.slug if i < len(entries) else f"{entry.slug}-bench{i}"
        model, created = Model.objects.get_or_create(slug=slug, defaults={
            "name": slug, "provider": provider, "upstream_id": slug, "price_input": entry.price_input,
            "price_cached_input": entry.price_cached, "price_output": entry.price_output})
        if not created and model.provider_id != provider.id:
            model.provider = provider
            model.save()
    models = [(m.id, m.slug, str(m.price_input), str(m.price_cached_input), str(m.price_output))
              for m in Model.objects.filter(provider=provider).order_by("id")[:MODELS]]
    assert len(models) == MODELS and Decimal(models[0][2]) >= 0
    return users[:USERS], models, provider.id


LOAD_SQL = """
INSERT INTO chat_usagerecord (
    user_id, purpose, provider_id, model_id, model_slug, upstream_model, outcome,
    prompt_tokens, cached_tokens, image_tokens, completion_tokens, reasoning_tokens,
    billable_output_tokens, total_tokens, estimated, reconciles, convention, raw_usage,
    price_input, price_cached_input, price_output, cost_ticks, stated_cost_ticks, created_at)
SELECT pick.u, CASE WHEN pick.h %% 10 = 0 THEN 'title' ELSE 'chat' END, %(provider)s, m.id, m.slug, m.slug,
       CASE WHEN pick.h %% 50 = 1 THEN 'cancelled' ELSE 'complete' END,
       t.p, t.c, 0, t.v, t.r, t.v + t.r, t.p + t.v + t.r, pick.h %% 50 = 1, true, 'A', NULL,
       m.pin, m.pc, m.pout,
       round(((t.p - t.c) * m.pin + t.c * m.pc + (t.v + t.r) * m.pout) * 10000)::bigint,
       CASE WHEN pick.h %% 3 = 0
            THEN round(((t.p - t.c) * m.pin + t.c * m.pc + (t.v + t.r) * m.pout) * 10000)::bigint END,
       %(day0)s::timestamptz - make_interval(days => pick.d) + make_interval(secs => pick.s)
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
CROSS JOIN LATERAL (
    SELECT (%(users)s::bigint[])[1 + abs(hashint8extended(g, 1)) %% %(nusers)s] AS u,
           (abs(hashint8extended(g, 2)) %% %(nmodels)s)::int AS mi,
           (abs(hashint8extended(g, 3)) %% %(days)s)::int AS d,
           (abs(hashint8extended(g, 4)) %% 86400)::int AS s,
           abs(hashint8extended(g, 5)) AS h
) AS pick
JOIN bench_models AS m ON m.idx = pick.mi
CROSS JOIN LATERAL (
    SELECT 200 + pick.h %% 4000 AS p, (pick.h %% 4000) / 2 AS c, 20 + (pick.h / 7) %% 900 AS v,
           CASE WHEN pick.h %% 3 = 0 THEN (pick.h / 11) %% 2000 ELSE 0 END AS r
) AS t
"""


def _load(rows: int, users: list[int], models: list[tuple[int, str, str, str, str]], provider: int,
          day0: dt.datetime, days: int, start_at: int = 1) -> float:
    from django.db import connection

    began = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS bench_models (idx int, id bigint, slug text, "
                    "pin numeric, pc numeric, pout numeric)")
        cur.execute("TRUNCATE bench_models")
        for idx, (mid, slug, pin, pc, pout) in enumerate(models):
            cur.execute("INSERT INTO bench_models VALUES (%s, %s, %s, %s, %s, %s)", [idx, mid, slug, pin, pc, pout])
        cur.execute(LOAD_SQL, {"provider": provider, "first": start_at, "last": start_at + rows - 1, "users": users,
                          "nusers": len(users), "nmodels": len(models), "day0": day0, "days": days})
        cur.execute("ANALYZE chat_usagerecord")
    return time.perf_counter() - began


def _timed(fn, runs: int) -> tuple[float, int, object]:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, queries, result = [], 0, None
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - began)
        queries = len(captured)
    return statistics.median(times), queries, result


def _http(first: dt.date, last: dt.date, runs: int) -> None:
    """Server time of GET /api/usage/report (JSON and CSV) and of the staff report page, in-process."""
    from django.test import Client

    from accounts.models import User

    staff, _ = User.objects.get_or_create(username="bench-staff", defaults={"is_staff": True})
    client = Client()
    client.force_login(staff)
    query = f"from={first}&to={last}"
    urls = [f"/api/usage/report?{query}&group_by={g}" for g in ("user", "model", "day")]
    urls += [f"/api/usage/report?{query}&group_by=user&format=csv", f"/usage/report/?{query}"]
    print("\n| request (last month) | server time (ms) | queries |\n|---|---:|---:|")
    for url in urls:
        def get(url: str = url) -> object:
            answer = client.get(url)
            assert answer.status_code == 200, (url, answer.status_code)
            return b"".join(answer.streaming_content) if answer.streaming else answer.content
        took, queries, _ = _timed(get, runs)
        print(f"| `GET {url.replace(query, 'from=..&to=..')}` | {took * 1000:.1f} | {queries} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=7, help="runs per report (the median is shown)")
    parser.add_argument("--reuse", action="store_true", help="keep an already loaded ledger of this size")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database, e.g. postgres://postgres@127.0.0.1:5432/grokweb_bench")
    _ensure_database(url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from usage import reports, rollups
    from usage.aggregates import day_start
    from usage.dates import preset_range
    from usage.models import RollupState, UsageDaily, UsageRecord

    call_command("migrate", "--noinput", verbosity=0)
    users, models, provider = _setup_world()
    today = timezone.localdate()
    day0 = day_start(today) - dt.timedelta(days=1)  # the newest loaded day is yesterday
    print(f"PostgreSQL {connection.pg_version // 10000}, time zone {timezone.get_current_timezone_name()}; "
          f"{len(users)} users, {len(models)} models, {DAYS} days")

    have = UsageRecord.objects.count()
    if args.reuse and have > args.rows:  # the "new day" rows of the previous run: drop them, redo the rollups
        UsageRecord.objects.filter(id__gt=args.rows).delete()
        RollupState.objects.update(last_record_id=args.rows)
        rollups.recompute_days([today, today - dt.timedelta(days=1)])
        have = UsageRecord.objects.count()
    if not (args.reuse and have == args.rows):
        with connection.cursor() as cur:
            cur.execute("TRUNCATE chat_usagerecord, usage_usagedaily RESTART IDENTITY CASCADE")
        RollupState.objects.all().delete()
        took = _load(args.rows, users, models, provider, day0 + dt.timedelta(hours=0), DAYS)
        print(f"loaded {args.rows:,} ledger rows in {took:.1f} s (INSERT ... SELECT generate_series)")
        RollupState.objects.all().delete()
        UsageDaily.objects.all().delete()
        began = time.perf_counter()
        written = rollups.backfill(today - dt.timedelta(days=DAYS), today)
        print(f"built rollups for {DAYS + 1} days in {time.perf_counter() - began:.1f} s: "
              f"{written:,} rollup rows ({args.rows / max(written, 1):.0f} ledger rows per rollup row)")
    else:
        print(f"reusing {have:,} ledger rows and {UsageDaily.objects.count():,} rollup rows")
        rollups.refresh()

    with connection.cursor() as cur:  # what autovacuum does after a bulk load anyway; timings are steadier
        cur.execute("VACUUM (ANALYZE) chat_usagerecord, usage_usagedaily, usage_usagedailyuser, "
                    "usage_usagedailymodel")
    first, last = preset_range("last_month")
    month_rows = UsageRecord.objects.filter(created_at__gte=day_start(first),
                                            created_at__lt=day_start(last + dt.timedelta(days=1))).count()
    print(f"\nreport: last month, {first} .. {last}: {month_rows:,} ledger rows, median of {args.runs} runs\n")
    print("| group by | rollups (ms) | queries | raw ledger (ms) | queries | speed-up | same numbers |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for group in ("user", "model", "day"):
        fast, fast_q, rolled = _timed(lambda g=group: reports.report(first, last, g), args.runs)
        slow, slow_q, raw = _timed(lambda g=group: reports.raw_rows(first, last, g), max(3, args.runs // 2))
        same = [(r.key, r.sums) for r in rolled.rows] == [(r.key, r.sums) for r in raw.rows]  # type: ignore[attr-defined]
        print(f"| {group} | {fast * 1000:.1f} | {fast_q} | {slow * 1000:.0f} | {slow_q} | {slow / fast:.0f}x | "
              f"{'yes' if same else 'NO'} |")

    # A constant number of queries whatever the range, and the time of the HTTP answers themselves.
    spans = {"7 days": 6, "last month": (last - first).days, "90 days": DAYS - 1}
    counts = {name: _timed(lambda n=n: reports.report(last - dt.timedelta(days=n), last, "user"), 1)[1]
              for name, n in spans.items()}
    print("\nqueries per report by user through rollups: "
          + ", ".join(f"{name} {count}" for name, count in counts.items()))
    _http(first, last, args.runs)

    # One day's new rows (written "today"), rolled up by the beat task's refresh().
    per_day = args.rows // DAYS
    newest = UsageRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0
    took = _load(per_day, users, models, provider, day_start(today), 1, start_at=newest + 1)
    began = time.perf_counter()
    days = rollups.refresh()
    refresh_s = time.perf_counter() - began
    print(f"\nincremental rollup: {per_day:,} new rows (loaded in {took:.1f} s) -> refresh() rebuilt "
          f"{len(days)} days ({', '.join(map(str, days))}) in {refresh_s * 1000:.0f} ms")
    today_fast, today_q, _ = _timed(lambda: reports.report(today.replace(day=1), today, "user"), args.runs)
    print(f"this month incl. today ({today.replace(day=1)} .. {today}), by user: {today_fast * 1000:.1f} ms, "
          f"{today_q} queries")


if __name__ == "__main__":
    main()
