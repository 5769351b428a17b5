"""Tariffs: which price a provider charges for a model on a day.

A price belongs to a (provider, model) pair and takes effect on its date; the
model's own price fields (the catalog's) are the fallback when no dated price
exists, so a call is never priced at zero by accident. usage.ledger applies them.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from . import catalog
from .models import Model, Price

# Prices seeded for a (provider, model) pair apply to every call before the first edit.
SINCE_ALWAYS = dt.date(2000, 1, 1)


@dataclass(frozen=True, slots=True)
class Rate:
    """USD per million tokens."""

    input: Decimal
    cached_input: Decimal
    output: Decimal


def model_rate(model: Model) -> Rate:
    return Rate(model.price_input, model.price_cached_input, model.price_output)


def rate_on(provider_id: int | None, model: Model, day: dt.date | None = None) -> Rate:
    """The price in effect on `day` (today, server time zone, by default) for this pair."""
    day = day or timezone.localdate()
    if provider_id is not None:
        row = (Price.objects.filter(provider_id=provider_id, model_id=model.pk, effective_from__lte=day)
               .order_by("-effective_from").first())
        if row is not None:
            return Rate(row.input, row.cached_input, row.output)
    return model_rate(model)


def rates_for(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], list[tuple[dt.date, Rate]]]:
    """Every dated price of these (provider, model) pairs, newest first: one query for a re-pricing run."""
    found: dict[tuple[int, int], list[tuple[dt.date, Rate]]] = {}
    if not pairs:
        return found
    providers = {p for p, _ in pairs}
    models = {m for _, m in pairs}
    rows = Price.objects.filter(provider_id__in=providers, model_id__in=models).order_by("-effective_from")
    for row in rows:
        key = (row.provider_id, row.model_id)
        if key in pairs:
            found.setdefault(key, []).append((row.effective_from, Rate(row.input, row.cached_input, row.output)))
    return found


def pick(dated: list[tuple[dt.date, Rate]], day: dt.date) -> Rate | None:
    """From newest-first dated prices, the one in effect on `day`."""
    return next((rate for since, rate in dated if since <= day), None)


def seed_rate(model: Model) -> Rate:
    """The first price of a pair: the model's own, or the catalog's (UPSTREAM.md) when it has none."""
    own = model_rate(model)
    if any((own.input, own.cached_input, own.output)):
        return own
    entry = catalog.lookup(model.slug) or catalog.lookup(model.upstream_id)
    return Rate(entry.price_input, entry.price_cached, entry.price_output) if entry else own


def ensure_price(model: Model) -> Price | None:
    """Give a newly offered (provider, model) pair its first dated price, once."""
    if model.provider_id is None or Price.objects.filter(provider_id=model.provider_id, model=model).exists():
        return None
    rate = seed_rate(model)
    return Price.objects.create(provider_id=model.provider_id, model=model, effective_from=SINCE_ALWAYS,
                                input=rate.input, cached_input=rate.cached_input, output=rate.output,
                                note="seeded from the built-in catalog")
