"""Reads for the health page: attempt statistics per window and the routes' circuit state."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from .breaker import Breaker, route_key
from .models import Attempt, Route
from .stats import HealthRow, summarize

WINDOWS = (("hour", "Last hour", timedelta(hours=1)), ("day", "Last 24 hours", timedelta(days=1)))


def window_rows(since: timedelta) -> list[HealthRow]:
    rows = (Attempt.objects.filter(at__gte=timezone.now() - since)
            .values_list("provider__name", "model_slug", "outcome", "ttft_ms"))
    return summarize((provider or "(deleted provider)", model, outcome, ttft)
                     for provider, model, outcome, ttft in rows.iterator())


@dataclass
class RouteState:
    route: Route
    open_for_s: int | None  # seconds left in the cool-down, None when closed


def route_states(breaker: Breaker | None = None) -> list[RouteState]:
    breaker = breaker or Breaker()
    now = breaker.clock()
    out = []
    for route in Route.objects.select_related("provider", "model").order_by("model__sort_order", "priority", "id"):
        until = breaker.open_until(route_key(route.id, route.provider_id, route.upstream_id))
        out.append(RouteState(route, max(1, round(until - now)) if until is not None else None))
    return out
