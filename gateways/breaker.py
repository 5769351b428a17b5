"""A circuit breaker per route, kept in Django's cache.

With REDIS_URL the cache is Redis, so every web process and worker sees the
same open circuit; without it the cache is in-process memory. A route opens
after `threshold` failures within `window_s` (or at once when a 429 names a
Retry-After), stays open for the cool-down, and closes on the next success.
After the cool-down calls go through again (half-open): a failure then reopens
it at once, because the failure count is kept for as long as the circuit is
open plus a window. Only failures before the first token are counted (the
caller's rule, gateways.failover): a stream that drops mid-reply says little
about whether the next call will start.

A model is never refused outright because its routes rest: while every route
of a model is open, one trial call at a time may still go to one of them
(`begin_trial`, shared by every process through the cache), unless the gateway
itself asked for the wait with a Retry-After (a `hold`). A trial that succeeds
closes the circuit for everyone.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache as default_cache
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache

PREFIX = "grokweb:breaker:"


@dataclass(frozen=True)
class Policy:
    threshold: int = 3
    window_s: float = 120.0
    cooldown_s: float = 60.0
    max_cooldown_s: float = 600.0


def cooldown_for(policy: Policy, failures: int, retry_after: float | None) -> float | None:
    """Seconds to keep a route closed after its `failures`-th failure; None while still closed. Pure."""
    if retry_after is not None and retry_after > 0:
        return min(max(retry_after, 1.0), policy.max_cooldown_s)
    if failures >= policy.threshold:
        return policy.cooldown_s
    return None


def configured_policy() -> Policy:
    """The policy from settings.GATEWAY_BREAKER (BREAKER_* environment variables)."""
    conf = getattr(settings, "GATEWAY_BREAKER", {})
    default = Policy()
    return Policy(threshold=max(1, int(conf.get("THRESHOLD", default.threshold))),
                  window_s=float(conf.get("WINDOW_S", default.window_s)),
                  cooldown_s=float(conf.get("COOLDOWN_S", default.cooldown_s)))


class Breaker:
    def __init__(self, cache: Any = None, policy: Policy | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.cache = cache if cache is not None else default_cache
        self.policy = policy or configured_policy()
        self.clock = clock

    @staticmethod
    def _keys(route_key: str) -> tuple[str, str]:
        return PREFIX + route_key + ":fails", PREFIX + route_key + ":open"

    @staticmethod
    def _hold_key(route_key: str) -> str:
        return PREFIX + route_key + ":hold"  # the gateway's own Retry-After: no trial before it

    @staticmethod
    def _trial_key(route_key: str) -> str:
        return PREFIX + route_key + ":trial"  # a trial call in flight (one at a time, every process)

    # Sync (services, pages) -------------------------------------------------

    def open_until(self, route_key: str) -> float | None:
        """When the route may be tried again (epoch seconds), or None when it is closed."""
        until = self.cache.get(self._keys(route_key)[1])
        return float(until) if until is not None and float(until) > self.clock() else None

    def open_many(self, route_keys: list[str]) -> dict[str, float]:
        """The open ones among these routes, with when each may be tried again: one cache call."""
        found = self.cache.get_many([self._keys(key)[1] for key in route_keys])
        now = self.clock()
        until = {key: found.get(self._keys(key)[1]) for key in route_keys}
        return {key: float(value) for key, value in until.items() if value is not None and float(value) > now}

    def is_open(self, route_key: str) -> bool:
        return self.open_until(route_key) is not None

    def failure(self, route_key: str, retry_after: float | None = None) -> float | None:
        """Count a failure; return the cool-down when this opened the circuit."""
        fails_key, open_key = self._keys(route_key)
        self.cache.add(fails_key, 0, self.policy.window_s)
        try:
            failures = int(self.cache.incr(fails_key))
        except ValueError:  # expired between add and incr
            self.cache.set(fails_key, 1, self.policy.window_s)
            failures = 1
        seconds = cooldown_for(self.policy, failures, retry_after)
        if seconds is not None:
            self.cache.set(open_key, self.clock() + seconds, int(seconds) + 1)
            if retry_after is not None and retry_after > 0:
                self.cache.set(self._hold_key(route_key), 1, int(seconds) + 1)
            # Keep the count past the rest (it was set to expire a window after the first failure),
            # so the first failure after a cool-down, or after a long Retry-After, reopens it at once.
            self.cache.touch(fails_key, int(seconds + self.policy.window_s) + 1)
        return seconds

    def success(self, route_key: str) -> None:
        self.cache.delete_many([*self._keys(route_key), self._hold_key(route_key)])

    def begin_trial(self, route_key: str, ttl_s: float) -> bool:
        """Claim the one trial call of a resting route; False while another runs or the gateway asked to wait.

        The claim expires after `ttl_s` (the attempt's own deadline and a margin), so a process
        that dies mid-trial does not block the route.
        """
        if self.cache.get(self._hold_key(route_key)) is not None:
            return False
        return bool(self.cache.add(self._trial_key(route_key), 1, max(1, int(ttl_s) + 1)))

    def end_trial(self, route_key: str) -> None:
        self.cache.delete(self._trial_key(route_key))

    # Async (the failover stream) ------------------------------------------------

    async def ais_open(self, route_key: str) -> bool:
        until = await self.cache.aget(self._keys(route_key)[1])
        return until is not None and float(until) > self.clock()

    async def afailure(self, route_key: str, retry_after: float | None = None) -> float | None:
        from asgiref.sync import sync_to_async

        return await sync_to_async(self.failure, thread_sensitive=False)(route_key, retry_after)

    async def aend_trial(self, route_key: str) -> None:
        from asgiref.sync import sync_to_async

        if _in_memory(self.cache):
            self.end_trial(route_key)
            return
        await sync_to_async(self.end_trial, thread_sensitive=False)(route_key)

    async def asuccess(self, route_key: str) -> None:
        if _in_memory(self.cache):  # no I/O, so no thread hop
            self.success(route_key)
            return
        from asgiref.sync import sync_to_async

        # One hop for both keys (the cache's own adelete_many makes a hop per key).
        await sync_to_async(self.success, thread_sensitive=False)(route_key)


def _in_memory(cache: Any) -> bool:
    """Whether this cache is the process's own memory (the default one is a proxy: look behind it)."""
    return isinstance(caches["default"] if cache is default_cache else cache, LocMemCache)


def route_key(route_id: int | None, provider_id: int, upstream_id: str) -> str:
    """A stable key: the route's id, or provider and id for a model served without Route rows."""
    return f"r{route_id}" if route_id is not None else f"p{provider_id}:{upstream_id}"
