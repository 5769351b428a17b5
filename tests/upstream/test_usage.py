"""Usage normalization on every recorded sample, and the price formula against xAI's own figure."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from gateways.tariffs import Rate as Price
from gateways.wire.chunks import parse_completion, parse_data
from gateways.wire.events import Usage
from gateways.wire.sse import SSEDecoder
from gateways.wire.usage import estimate, normalize
from usage.money import cost_ticks, format_usd

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SEEDS = json.loads((FIXTURES / "seed_responses.json").read_text())
GROK_4_FAST = Price(Decimal("0.20"), Decimal("0.05"), Decimal("0.50"))


def recorded_usage() -> Usage:
    decoder = SSEDecoder()
    events = [e for sse in decoder.feed((FIXTURES / "xai_grok-4-fast_stream.sse").read_bytes())
              for e in parse_data(sse.data)]
    return next(e for e in events if isinstance(e, Usage))


def test_recorded_grok_4_fast_stream_costs_exactly_739000_ticks() -> None:
    event = recorded_usage()
    usage = normalize(event.raw)
    assert (usage.prompt, usage.cached, usage.visible_output, usage.reasoning) == (165, 164, 2, 129)
    assert usage.billable_output == 131 and usage.total == 296 and usage.reconciles and usage.convention == "A"
    assert cost_ticks(usage, GROK_4_FAST) == 739000 == usage.stated_cost_ticks
    assert format_usd(cost_ticks(usage, GROK_4_FAST)) == "0.0000739"


# (sample, convention, reconciles, visible, reasoning, billable, total)
CASES = [
    ("aimlapi_grok-4-1-fast-non-reasoning", "A", True, 106, 0, 106, 283),
    ("aimlapi_grok-4-1-fast-reasoning", "A", True, 140, 268, 408, 573),
    ("aimlapi_grok-code-fast-1", "C", False, 79, 214, 293, 86 + 79 + 214),
    ("maxtoken_grok-4.20-beta-0309-non-reasoning", "B", True, 72, 124, 196, 884),
]


@pytest.mark.parametrize(("sample", "convention", "reconciles", "visible", "reasoning", "billable", "total"), CASES)
def test_every_seed_sample_normalizes(sample, convention, reconciles, visible, reasoning, billable, total) -> None:
    usage_event = next(e for e in parse_completion(SEEDS[sample]) if isinstance(e, Usage))
    usage = normalize(usage_event.raw, usage_event.meta)
    assert usage.convention == convention and usage.reconciles is reconciles
    assert (usage.visible_output, usage.reasoning, usage.billable_output, usage.total) == (
        visible, reasoning, billable, total)
    assert usage.cached <= usage.prompt  # even when the gateway says otherwise
    assert not usage.estimated


def test_aimlapi_meta_is_read_as_the_stated_cost() -> None:
    usage = normalize({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                      {"usage": {"tokens_used": 15, "credits_used": 14, "usd_spent": 0.000007}})
    assert usage.stated_cost_ticks == 70000


def test_a_provider_setting_forces_a_convention() -> None:
    raw = {"prompt_tokens": 10, "completion_tokens": 30, "total_tokens": 40,
           "completion_tokens_details": {"reasoning_tokens": 10}}
    assert normalize(raw).convention == "B"
    forced = normalize(raw, convention="A")
    assert forced.billable_output == 40 and not forced.reconciles  # A would need T = 50


def test_an_estimate_is_flagged_and_never_zero() -> None:
    nothing = estimate(0, "")
    assert nothing.estimated and nothing.prompt >= 1 and cost_ticks(nothing, GROK_4_FAST) > 0
    partial = estimate(400, "x" * 40, "y" * 8, hidden_reasoning_tokens=30)
    assert (partial.prompt, partial.visible_output, partial.reasoning) == (100, 10, 32)


@pytest.mark.parametrize(("ticks", "text"), [
    (0, "0"), (None, "0"), (739000, "0.0000739"), (10**10, "1"), (15 * 10**9, "1.5"), (1, "0.0000000001"),
    (-1, "-0.0000000001"), (-15 * 10**9, "-1.5"), (-3 * 10**10, "-3"), (12_345_678_901_234_567, "1234567.8901234567"),
])
def test_usd_is_formatted_as_a_plain_decimal_string(ticks: int | None, text: str) -> None:
    assert format_usd(ticks) == text


def test_usd_formatting_equals_decimal_arithmetic() -> None:
    import random
    from decimal import Decimal

    rng = random.Random(3)
    for _ in range(5000):
        ticks = rng.choice([1, -1]) * rng.randint(0, 10 ** rng.randint(0, 20))
        exact = format(Decimal(ticks) / Decimal(10**10), "f")
        assert format_usd(ticks) == (exact.rstrip("0").rstrip(".") if "." in exact else exact), ticks


# (sample, cost in ticks at the built-in catalog's price for the sample's model)
COSTS = [
    ("aimlapi_grok-4-1-fast-non-reasoning", 642_500),  # 16 x 0.20 + 161 x 0.05 + 106 x 0.50
    ("aimlapi_grok-4-1-fast-reasoning", 2_143_500),  # 14 x 0.20 + 151 x 0.05 + (140 + 268) x 0.50
    ("aimlapi_grok-code-fast-1", 4_412_200),  # cached capped at P: 86 x 0.02 + (79 + 214) x 1.50
    ("maxtoken_grok-4.20-beta-0309-non-reasoning", 13_298_000),  # 9 x 2 + 679 x 0.20 + 196 x 6
]


@pytest.mark.parametrize(("sample", "ticks"), COSTS)
def test_every_seed_sample_costs_what_the_formula_says(sample: str, ticks: int) -> None:
    from gateways import catalog

    body = SEEDS[sample]
    # Priced as the model we asked for: maxtoken echoes "grok-4" for grok-4.20, which would cost 2.6x more.
    entry = catalog.lookup(sample.split("_", 1)[1])
    assert entry is not None
    usage_event = next(e for e in parse_completion(body) if isinstance(e, Usage))
    usage = normalize(usage_event.raw, usage_event.meta)
    assert cost_ticks(usage, Price(entry.price_input, entry.price_cached, entry.price_output)) == ticks
    assert usage.stated_cost_ticks is None  # none of these gateways stated a cost in USD
