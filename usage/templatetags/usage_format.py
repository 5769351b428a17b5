"""Display filters for the usage pages: money from ticks, counts with separators."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import template

from ..money import format_usd, ticks_to_usd

register = template.Library()


@register.filter
def usd(ticks: int | None) -> str:
    """A readable amount: cents above a dollar, more digits below (the exact value is `usd_exact`)."""
    if not ticks:
        return "$0"
    value = ticks_to_usd(int(ticks))
    sign, value = ("-", -value) if value < 0 else ("", value)
    if value >= 1:
        return f"{sign}${value.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"
    if value >= Decimal("0.01"):
        return f"{sign}${value.quantize(Decimal('0.0001'), ROUND_HALF_UP)}"
    if value >= Decimal("0.000001"):
        return f"{sign}${value.quantize(Decimal('0.000001'), ROUND_HALF_UP)}"
    return f"{sign}<$0.000001"


@register.filter
def usd_exact(ticks: int | None) -> str:
    return format_usd(int(ticks or 0))


@register.filter
def num(value: int | None) -> str:
    return f"{int(value or 0):,}"


@register.filter
def signed_usd(ticks: int | None) -> str:
    """A difference: readable like `usd`, but a tiny one keeps its exact digits (never "<$0.000001")."""
    ticks = int(ticks or 0)
    sign = "+" if ticks > 0 else "-" if ticks < 0 else ""
    if 0 < abs(ticks) < 10_000:  # below a millionth of a dollar
        return f"{sign}${format_usd(abs(ticks))}"
    return ("+" if ticks > 0 else "") + usd(ticks)
