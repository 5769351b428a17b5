"""A per-process store kept against a version number in the shared cache: the one mechanism
behind gateways.plans (routes, keys, prices, offered models) and accounts.token_cache (API tokens).

Values that every request reads but admins rarely change are kept in each process; a change
bumps the version in the shared cache (Redis in the team deployment, so every process sees it at
once) and a kept value is never older than its TTL anyway (a bulk update that sends no signal
still shows within that).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import transaction

T = TypeVar("T")


class VersionedStore:
    """Entries of this process, each kept with the shared version it was read under."""

    def __init__(self, version_key: str, ttl_s: float = 30.0) -> None:
        self.version_key = version_key
        self.ttl_s = ttl_s
        self._entries: dict[Hashable, tuple[Any, float, Any]] = {}  # key -> (version, expires at, value)

    def version(self) -> Any:
        """The shared version. A missing key (a fresh Redis, an evicted key, a cleared cache) gets a
        new value, so entries made under an older one are never taken for current."""
        current = cache.get(self.version_key)
        if current is None:
            cache.add(self.version_key, time.time_ns(), None)
            current = cache.get(self.version_key)
        return current

    def get(self, key: Hashable, current: Any) -> Any:
        """The value kept for `key` under version `current` and not expired, or None."""
        entry = self._entries.get(key)
        if entry is None or entry[0] != current or entry[1] <= time.monotonic():
            return None
        return entry[2]

    def put(self, key: Hashable, value: Any, current: Any) -> None:
        """Keep `value`, read after `current` was read (so a change committed meanwhile is not masked)."""
        self._entries[key] = (current, time.monotonic() + self.ttl_s, value)

    def cached(self, key: Hashable, build: Callable[[], T], current: Any = None) -> T:
        """`build()`'s value for `key`, reused while the version holds and the TTL has not run out.

        Pass `current` (from `version()`) when several lookups serve one request: one cache read.
        """
        current = self.version() if current is None else current
        entry = self._entries.get(key)
        if entry is not None and entry[0] == current and entry[1] > time.monotonic():
            return entry[2]  # type: ignore[no-any-return]
        value = build()
        self.put(key, value, current)
        return value

    def changed(self) -> None:
        """Something a kept value depends on changed: every process reads it again on next use."""
        self._entries.clear()
        try:
            cache.incr(self.version_key)
        except ValueError:  # no version yet (or it was evicted): a new value differs from any before
            cache.set(self.version_key, time.time_ns(), None)

    def changed_on_commit(self) -> None:
        """Bump once the change is visible to other connections: a process that read the old rows
        under the new version would keep them until the TTL."""
        self._entries.clear()
        transaction.on_commit(self.changed)

    def forget(self) -> None:
        """Drop this process's entries (tests, or after a key rotation in this process)."""
        self._entries.clear()
