"""Template filters for the gateway pages."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def ago(when: datetime | None) -> str:
    """`just now`, `5 minutes ago`, `2 days ago`: never `0 minutes ago`."""
    if when is None:
        return ""
    if (timezone.now() - when).total_seconds() < 60:
        return "just now"
    return f"{timesince(when, depth=1)} ago"


@register.filter
def per_million(price: Decimal | None) -> str:
    """`0.2` -> `$0.20`, `0.075` -> `$0.075`: a price per million tokens as people write it."""
    if price is None:
        return ""
    text = format(Decimal(price).normalize(), "f")
    whole, _, cents = text.partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"


@register.filter
def get_item(mapping: dict[Any, Any], key: Any) -> Any:
    return mapping.get(key)
