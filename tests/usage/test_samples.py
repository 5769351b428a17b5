"""Every recorded sample in tests/fixtures, through the ledger and the report: normalized counts, exact cost, flags."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from gateways import catalog
from gateways.models import Price
from gateways.wire.chunks import parse_completion, parse_data
from gateways.wire.events import Usage
from gateways.wire.sse import SSEDecoder
from gateways.wire.usage import normalize
from usage import reports, rollups
from usage.ledger import ledger_row
from usage.models import UsageRecord
from usage.repricing import reprice

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SEEDS = json.loads((FIXTURES / "seed_responses.json").read_text())
STREAM = "xai_grok-4-fast_stream"


def _usage_event(sample: str) -> Usage:
    if sample == STREAM:
        decoder = SSEDecoder()
        events = [e for sse in decoder.feed((FIXTURES / f"{STREAM}.sse").read_bytes()) for e in parse_data(sse.data)]
    else:
        events = list(parse_completion(SEEDS[sample]))
    return next(e for e in reversed(events) if isinstance(e, Usage))


def _slug(sample: str) -> str:
    entry = catalog.lookup(sample.split("_", 1)[1].removesuffix("_stream"))
    assert entry is not None
    return entry.slug


# sample -> (prompt, cached, visible, reasoning, billable, total, reconciles, convention, cost ticks, stated ticks)
EXPECTED = {
    STREAM: (165, 164, 2, 129, 131, 296, True, "A", 739_000, 739_000),
    "aimlapi_grok-4-1-fast-non-reasoning": (177, 161, 106, 0, 106, 283, True, "A", 642_500, None),
    "aimlapi_grok-4-1-fast-reasoning": (165, 151, 140, 268, 408, 573, True, "A", 2_143_500, None),
    # Does not reconcile (text 205 > P 86, R 214 > C 79): flagged, cached capped at P, reasoning billed as output.
    "aimlapi_grok-code-fast-1": (86, 86, 79, 214, 293, 379, False, "C", 4_412_200, None),
    "maxtoken_grok-4.20-beta-0309-non-reasoning": (688, 679, 72, 124, 196, 884, True, "B", 13_298_000, None),
}


def test_the_fixtures_are_all_covered() -> None:
    on_disk = {p.stem for p in FIXTURES.glob("*.sse")} | set(SEEDS)
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("sample", sorted(EXPECTED))
def test_each_sample_is_ledgered_with_its_normalized_counts_and_exact_cost(user, models, sample) -> None:
    event = _usage_event(sample)
    model = models[_slug(sample)]
    row = ledger_row(user.pk, model, normalize(event.raw, event.meta), raw_usage=event.raw, purpose="chat",
                     upstream_model=SEEDS.get(sample, {}).get("model", "grok-4-fast-reasoning"))
    row.refresh_from_db()
    stored = (row.prompt_tokens, row.cached_tokens, row.completion_tokens, row.reasoning_tokens,
              row.billable_output_tokens, row.total_tokens, row.reconciles, row.convention, row.cost_ticks,
              row.stated_cost_ticks)
    assert stored == EXPECTED[sample]
    assert row.raw_usage == event.raw and not row.estimated and row.provider_id == model.provider_id
    assert isinstance(row.price_input, Decimal) and isinstance(row.cost_ticks, int)


def test_the_report_flags_the_unreconciled_sample_and_agrees_with_xai(user, models, today) -> None:
    for sample in EXPECTED:
        event = _usage_event(sample)
        ledger_row(user.pk, models[_slug(sample)], normalize(event.raw, event.meta), raw_usage=event.raw)
    by_model = {r.key: r for r in reports.report(today, today, "model").rows}
    assert by_model["grok-code-fast-1"].unreconciled_calls == 1
    assert sum(r.unreconciled_calls for r in by_model.values()) == 1
    xai = by_model["grok-4-fast-reasoning"].api()
    assert (xai["cost_usd"], xai["stated_cost_usd"], xai["stated_difference_usd"]) == ("0.0000739", "0.0000739", "0")
    total = sum(expected[8] for expected in EXPECTED.values())
    assert reports.report(today, today).totals.cost_ticks == total == sum(
        UsageRecord.objects.values_list("cost_ticks", flat=True))


def test_a_stated_cost_wins_when_the_numbers_do_not_reconcile_and_survives_repricing(user, models, today) -> None:
    raw = {**SEEDS["aimlapi_grok-code-fast-1"]["usage"], "cost": 0.0000512}  # a gateway that states USD
    usage = normalize(raw)
    assert not usage.reconciles and usage.stated_cost_ticks == 512_000
    model = models["grok-code-fast-1"]
    row = ledger_row(user.pk, model, usage, raw_usage=raw)
    assert row.cost_ticks == 512_000  # the gateway's figure, not our 4,412,200 from contradictory counts
    reconciled = ledger_row(user.pk, model, normalize({"prompt_tokens": 100, "completion_tokens": 10,
                                                       "total_tokens": 110, "cost": 0.5}))
    assert reconciled.cost_ticks == 100 * 2000 + 10 * 15000  # reconciling numbers: our price, stated kept aside
    assert reconciled.stated_cost_ticks == 5 * 10**9

    Price.objects.create(provider=model.provider, model=model, effective_from=today - dt.timedelta(days=1),
                         input=Decimal("1"), cached_input=Decimal("1"), output=Decimal("9"))
    reprice(today, today)
    row.refresh_from_db()
    reconciled.refresh_from_db()
    assert row.cost_ticks == 512_000 and reconciled.cost_ticks == 100 * 10_000 + 10 * 90_000
    rollups.refresh()
    assert reports.report(today, today).totals.cost_ticks == 512_000 + 1_900_000
