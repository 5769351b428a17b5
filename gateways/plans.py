"""Per-process caches of what every reply reads but admins rarely change: routes with decrypted keys, prices.

Decrypting a key and reading a model's routes and dated price cost a few queries and a Fernet
call per reply. They change only when an admin (or discovery) saves a Provider, Model, Route or
Price, so each process keeps them, checked against a version number in the shared cache (Redis
with REDIS_URL: every process sees a bump at once) and never older than `TTL_S` anyway (a bulk
update that sends no signal still shows within that). Breaker state is NOT cached here: it
changes per call and is read live (gateways.routes).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from django.core.cache import cache

VERSION_KEY = "grokweb:gateways:version"
TTL_S = 30.0
T = TypeVar("T")
_UNSET: Any = object()

_entries: dict[Hashable, tuple[Any, float, Any]] = {}  # key -> (version, expires at, value)


def version() -> Any:
    """The shared version. A missing key (a fresh Redis, an evicted key, a cleared cache) gets a
    new value, so entries made under an older one are never taken for current."""
    current = cache.get(VERSION_KEY)
    if current is None:
        cache.add(VERSION_KEY, time.time_ns(), None)
        current = cache.get(VERSION_KEY)
    return current


def changed() -> None:
    """Something a plan depends on changed: every process rebuilds its plans on next use."""
    _entries.clear()
    try:
        cache.incr(VERSION_KEY)
    except ValueError:  # no version yet (or it expired): a new value differs from any before
        cache.set(VERSION_KEY, time.time_ns(), None)


def cached(key: Hashable, build: Callable[[], T], current: Any = _UNSET) -> T:
    """`build()`'s value for `key`, reused while the version holds and the TTL has not run out.

    Pass `current` (from `version()`) when several lookups serve one reply: one cache read.
    """
    current = version() if current is _UNSET else current
    now = time.monotonic()
    entry = _entries.get(key)
    if entry is not None and entry[0] == current and entry[1] > now:
        return entry[2]  # type: ignore[no-any-return]
    value = build()
    _entries[key] = (current, now + TTL_S, value)
    return value


def forget() -> None:
    """Drop this process's entries (tests, or after a key rotation in this process)."""
    _entries.clear()
