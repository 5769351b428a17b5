"""Rate limits: messages per minute and concurrent generations, per user.

Defaults come from settings.GROKWEB (MESSAGES_PER_MINUTE, MAX_LIVE_GENERATIONS);
a group's policy may override them, and a user in several groups gets the most
generous override (groups grant). The per-minute counter lives in Django's
cache, which is Redis when REDIS_URL is set, so every web process shares it.
It is a fixed one-minute window: simple, atomic (INCR), and it tells exactly
when to retry.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache

from gateways import plans
from gateways.wire.codes import ChatError

from .models import GroupPolicy

WINDOW_S = 60
LIVE_RETRY_S = 5


@dataclass(frozen=True)
class Limits:
    messages_per_minute: int
    max_live_generations: int
    # The user's group policies these came from (budgets read them too: one query per send).
    policies: tuple[GroupPolicy, ...] | None = field(default=None, compare=False, repr=False)


def limits_for(user: Any) -> Limits:
    per_minute = settings.GROKWEB.get("MESSAGES_PER_MINUTE", 20)
    live = settings.GROKWEB["MAX_LIVE_GENERATIONS"]
    policies = policies_of(user)
    minutes = [p.messages_per_minute for p in policies if p.messages_per_minute is not None]
    lives = [p.max_live_generations for p in policies if p.max_live_generations is not None]
    return Limits(max(minutes) if minutes else per_minute, max(lives) if lives else live, policies)


def policies_of(user: Any) -> tuple[GroupPolicy, ...]:
    """The user's group policies, kept per process (gateways.plans: renewed when a policy changes or
    someone joins or leaves a group, accounts.access), as every send reads them. Shared: never change them."""
    return plans.cached(("accounts.policies", user.pk), lambda: tuple(
        GroupPolicy.objects.filter(group__user=user).select_related("group").order_by("group_id")))


def _key(user_id: int, window: int) -> str:
    return f"grokweb:rate:{user_id}:{window}"


def hit(user: Any, limits: Limits | None = None, now: float | None = None) -> None:
    """Count one message against the user's per-minute limit; refuse with `rate_limited` past it."""
    limits = limits or limits_for(user)
    now = time.time() if now is None else now
    window = int(now // WINDOW_S)
    key = _key(user.pk, window)
    cache.add(key, 0, WINDOW_S + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, WINDOW_S + 5)
        count = 1
    if count > limits.messages_per_minute:
        retry_after = max(1, math.ceil((window + 1) * WINDOW_S - now))
        raise ChatError(
            "rate_limited",
            f"You can send {limits.messages_per_minute} messages a minute; try again in {retry_after} s.",
            retry_after=retry_after,
        )


def check_live(user: Any, live: int, limits: Limits) -> None:
    """The concurrent-generation limit; `live` is counted under the user's lock (accounts.gate)."""
    if live >= limits.max_live_generations:
        raise ChatError(
            "rate_limited",
            f"You already have {live} replies being written; wait for one to finish.",
            retry_after=LIVE_RETRY_S,
        )
