"""httpcore's locks taken without a turn of the event loop when nobody holds them.

Between a streamed request handed to httpx's transport and its first byte on the wire, httpcore
takes two locks (the connection's request lock, then its HTTP/1.1 state lock). Each is an
`anyio.Lock`, and anyio's lock yields to the event loop even when it is free (a checkpoint), so
the request waited two loop turns, 0.1-0.3 ms of every reply's first token on a busy process,
while nothing else held either lock. anyio has the switch for exactly this: `Lock(fast_acquire=True)`
skips that yield when the lock is free, and waits for it as before when it is held.

`install()` has httpcore's asyncio locks made that way. Everything else is httpcore's; a lock
held by another request is waited for as always. Process-wide, like gateways.wire.onewrite; an
httpcore or anyio without what this relies on is left alone (the pins are httpcore 1.0, anyio 4).
"""
from __future__ import annotations

import inspect
import logging
from typing import Any

import anyio
import httpcore
from httpcore import _synchronization

log = logging.getLogger(__name__)
_installed = False


def _setup(self: Any) -> None:
    """httpcore's AsyncLock.setup, with anyio's free lock taken at once."""
    self._backend = _synchronization.current_async_library()
    if self._backend == "trio":
        self._trio_lock = _synchronization.trio.Lock()
    elif self._backend == "asyncio":
        self._anyio_lock = anyio.Lock(fast_acquire=True)


def install() -> bool:
    """Make httpcore's asyncio locks fast to take when free. Idempotent; whether it applies."""
    global _installed
    if _installed:
        return True
    lock = getattr(_synchronization, "AsyncLock", None)
    if (lock is None or not hasattr(lock, "setup") or not hasattr(_synchronization, "current_async_library")
            or "fast_acquire" not in inspect.signature(anyio.Lock).parameters):
        log.warning("httpcore %s: its locks yield to the event loop even when free", httpcore.__version__)
        return False
    lock.setup = _setup
    _installed = True
    return True
