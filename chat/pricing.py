"""Cost of a call from its normalized usage and a price: exact integer ticks (USD x 1e10).

xAI bills reasoning as output and cached prompt tokens at the cached price;
this formula reproduces xAI's own `cost_in_usd_ticks` exactly (UPSTREAM.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from .upstream.usage import TICKS_PER_USD, NormalizedUsage

_PER_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens."""

    input: Decimal
    cached_input: Decimal
    output: Decimal


def cost_ticks(usage: NormalizedUsage, price: Price) -> int:
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
