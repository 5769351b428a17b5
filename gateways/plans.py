"""Per-process caches of what every reply reads but admins rarely change: routes with decrypted keys, prices.

Decrypting a key and reading a model's routes and dated price cost a few queries and a Fernet
call per reply. They change only when an admin (or discovery) saves a Provider, Model, Route or
Price, so each process keeps them, checked against a version number in the shared cache (Redis
with REDIS_URL: every process sees a bump at once) and never older than `TTL_S` anyway (a bulk
update that sends no signal still shows within that). Breaker state is NOT cached here: it
changes per call and is read live (gateways.routes).
"""
from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from .versioned import VersionedStore

VERSION_KEY = "grokweb:gateways:version"
TTL_S = 30.0
T = TypeVar("T")
_UNSET: Any = object()
_store = VersionedStore(VERSION_KEY, TTL_S)


def version() -> Any:
    """The shared version (see gateways.versioned)."""
    return _store.version()


def changed() -> None:
    """Something a plan depends on changed: every process rebuilds its plans on next use."""
    _store.changed()


def cached(key: Hashable, build: Callable[[], T], current: Any = _UNSET) -> T:
    """`build()`'s value for `key`, reused while the version holds and the TTL has not run out.

    Pass `current` (from `version()`) when several lookups serve one reply: one cache read.
    """
    return _store.cached(key, build, None if current is _UNSET else current)


def forget() -> None:
    """Drop this process's entries (tests, or after a key rotation in this process)."""
    _store.forget()
