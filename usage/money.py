"""Money: the cost of a call from its normalized usage and a price, in exact integer ticks (USD x 1e10).

xAI bills reasoning as output and cached prompt tokens at the cached price;
this formula reproduces xAI's own `cost_in_usd_ticks` exactly (UPSTREAM.md).
Pure; the price itself is a gateway's tariff (gateways.tariffs.Rate).
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from gateways.wire.usage import TICKS_PER_USD, NormalizedUsage

if TYPE_CHECKING:
    from gateways.tariffs import Rate

_PER_MILLION = Decimal(1_000_000)


def cost_ticks(usage: NormalizedUsage, price: Rate) -> int:
    uncached = max(usage.prompt - usage.cached, 0)
    usd = (uncached * price.input + usage.cached * price.cached_input + usage.billable_output * price.output)
    ticks = usd * TICKS_PER_USD / _PER_MILLION
    return int(ticks.to_integral_value(rounding=ROUND_HALF_UP))


def ticks_to_usd(ticks: int) -> Decimal:
    return Decimal(ticks) / TICKS_PER_USD


def format_usd(ticks: int | None) -> str:
    """A decimal string with no exponent and no trailing zeros: 739000 -> "0.0000739"."""
    if ticks is None:
        return "0"
    text = format(ticks_to_usd(ticks), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def money(ticks: int | None) -> str:
    """For people, not ledgers: "$9.00", "$0.30", and tiny amounts with their digits ("$0.000012")."""
    usd = ticks_to_usd(ticks or 0)
    if usd == 0 or usd >= Decimal("0.01"):
        return f"${usd.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"
    return f"${format_usd(ticks)}"
