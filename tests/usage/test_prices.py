"""Dated prices: seeded per (provider, model), applied on their date, fixed on a row; re-pricing is explicit."""
from __future__ import annotations

import datetime as dt
import io
import logging
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from gateways.models import Model, Price, Provider
from gateways.tariffs import SINCE_ALWAYS, rate_on
from gateways.wire.usage import normalize
from usage import reports
from usage.ledger import ledger_row
from usage.models import RepriceRun, UsageDaily, UsageRecord

pytestmark = pytest.mark.django_db
XAI_739000 = {"prompt_tokens": 165, "completion_tokens": 2, "total_tokens": 296,
              "prompt_tokens_details": {"cached_tokens": 164}, "completion_tokens_details": {"reasoning_tokens": 129},
              "cost_in_usd_ticks": 739000}


def test_every_offered_model_gets_a_dated_price_from_the_catalog(models) -> None:
    assert Price.objects.count() == len(models)
    price = Price.objects.get(model__slug="grok-code-fast-1")
    assert (price.input, price.cached_input, price.output) == (Decimal("0.20"), Decimal("0.02"), Decimal("1.50"))
    assert price.effective_from == SINCE_ALWAYS and price.provider == models["grok-code-fast-1"].provider


def test_the_recorded_stream_costs_739000_ticks_through_the_ledger(user, models) -> None:
    row = ledger_row(user.pk, models["grok-4-fast-reasoning"], normalize(XAI_739000))
    assert row.cost_ticks == 739000 == row.stated_cost_ticks
    assert (row.price_input, row.price_cached_input, row.price_output) == (
        Decimal("0.20"), Decimal("0.05"), Decimal("0.50"))


def test_a_price_change_takes_effect_on_its_date_and_old_rows_keep_their_cost(user, models, today) -> None:
    model = models["grok-4-fast-reasoning"]
    before = ledger_row(user.pk, model, normalize(XAI_739000))
    Price.objects.create(provider=model.provider, model=model, effective_from=today + dt.timedelta(days=1),
                         input=Decimal("1"), cached_input=Decimal("1"), output=Decimal("1"))
    assert ledger_row(user.pk, model, normalize(XAI_739000)).cost_ticks == 739000  # not yet
    Price.objects.create(provider=model.provider, model=model, effective_from=today,
                         input=Decimal("0.40"), cached_input=Decimal("0.10"), output=Decimal("1.00"))
    after = ledger_row(user.pk, model, normalize(XAI_739000))
    assert after.cost_ticks == 1478000 and after.price_input == Decimal("0.40")
    before.refresh_from_db()
    assert before.cost_ticks == 739000 and before.price_input == Decimal("0.20")
    assert rate_on(model.provider_id, model, today - dt.timedelta(days=1)).input == Decimal("0.20")
    assert rate_on(model.provider_id, model, today + dt.timedelta(days=1)).input == Decimal("1")


def test_the_price_is_the_serving_providers(user, models) -> None:
    model = models["grok-4-0709"]
    reseller = Provider.objects.create(name="Reseller", kind=Provider.Kind.OPENAI, base_url="http://r.example/v1")
    Price.objects.create(provider=reseller, model=model, effective_from=SINCE_ALWAYS,
                         input=Decimal("6"), cached_input=Decimal("6"), output=Decimal("30"))
    usage = normalize({"prompt_tokens": 1000, "completion_tokens": 1000, "total_tokens": 2000})
    own = ledger_row(user.pk, model, usage)
    resold = ledger_row(user.pk, model, usage, provider_id=reseller.pk)
    assert own.cost_ticks == 180_000_000 and own.provider_id == model.provider_id
    assert resold.cost_ticks == 360_000_000 and resold.provider_id == reseller.pk


def test_without_a_dated_price_the_models_own_price_applies(user, models) -> None:
    model = models["grok-3-mini"]
    Price.objects.filter(model=model).delete()
    Model.objects.filter(pk=model.pk).update(price_input=Decimal("1"))
    model.refresh_from_db()
    row = ledger_row(user.pk, model, normalize({"prompt_tokens": 1_000_000, "completion_tokens": 0}))
    assert row.cost_ticks == 10**10


def test_reprice_changes_only_the_chosen_range_and_logs_it(user, models, record, today, caplog) -> None:
    model = models["grok-4-fast-reasoning"]
    days = [today - dt.timedelta(days=n) for n in (5, 4, 3)]
    rows = {day: record(user, model.slug, day, prompt=1_000_000, visible=0) for day in days}
    from usage import rollups
    rollups.refresh()
    assert {r.cost_ticks for r in rows.values()} == {2 * 10**9}
    # A price entered late, effective from the first day: only an explicit re-price applies it.
    Price.objects.create(provider=model.provider, model=model, effective_from=days[0],
                         input=Decimal("0.30"), cached_input=Decimal("0.05"), output=Decimal("0.50"))
    out = io.StringIO()
    call_command("reprice_usage", "--from", str(days[1]), "--to", str(days[1]), "--dry-run", stdout=out)
    assert "Would change 1 of 1" in out.getvalue()
    assert UsageRecord.objects.get(pk=rows[days[1]].pk).cost_ticks == 2 * 10**9  # dry run wrote nothing

    with caplog.at_level(logging.WARNING, logger="usage.repricing"):
        call_command("reprice_usage", "--from", str(days[1]), "--to", str(days[1]), stdout=out)
    costs = {day: UsageRecord.objects.get(pk=row.pk).cost_ticks for day, row in rows.items()}
    assert costs == {days[0]: 2 * 10**9, days[1]: 3 * 10**9, days[2]: 2 * 10**9}
    assert UsageRecord.objects.get(pk=rows[days[1]].pk).price_input == Decimal("0.30")
    assert UsageDaily.objects.get(day=days[1]).cost_ticks == 3 * 10**9  # rollup refreshed
    assert reports.report(days[0], days[2]).totals.cost_ticks == 7 * 10**9
    run = RepriceRun.objects.filter(dry_run=False).get()
    assert (run.rows_changed, run.old_cost_ticks, run.new_cost_ticks) == (1, 2 * 10**9, 3 * 10**9)
    assert RepriceRun.objects.filter(dry_run=True).count() == 1
    assert "1 of 1 ledger rows changed" in caplog.text

    call_command("reprice_usage", "--from", str(days[1]), "--to", str(days[1]), stdout=out)
    assert RepriceRun.objects.first().rows_changed == 0  # idempotent


def test_reprice_refuses_bad_dates() -> None:
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("reprice_usage", "--from", "yesterday", "--to", "2026-01-01")
    with pytest.raises(CommandError, match="after"):
        call_command("reprice_usage", "--from", "2026-02-01", "--to", "2026-01-01")


def test_the_model_admin_points_to_the_dated_prices_instead_of_editing_the_catalog_price(
        staff_client, emulator_provider) -> None:
    from gateways.models import Model

    model = Model.objects.get(slug="grok-4-0709")
    page = staff_client.get(f"/admin/gateways/model/{model.pk}/change/").content.decode()
    assert 'name="price_input"' not in page  # read-only: editing it would bill nothing differently
    assert f"/admin/gateways/price/?model__id__exact={model.pk}" in page
    prices = staff_client.get(f"/admin/gateways/price/?model__id__exact={model.pk}")
    assert prices.status_code == 200 and "grok-4-0709" in prices.content.decode()
