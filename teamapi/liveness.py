"""This web process's name as the holder of its Team API calls, and its heartbeat.

A Team API call has no row of its own that a sweep could end, so its Reservation names the
process holding it. While the process lives it says so every few seconds (in the shared
cache: Redis in the team deployment); once it stops, `accounts.gate.release_orphans` frees
what it held. The heartbeat also ends streamed calls whose response was never read (a client
gone between the view's answer and the first chunk), which no disconnect would reach.
"""
from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Callable

from channels.db import database_sync_to_async

from accounts import gate

log = logging.getLogger(__name__)
HOLDER = f"api:{os.getpid()}:{uuid.uuid4().hex[:12]}"
BEAT_S = 10.0

_loop: asyncio.AbstractEventLoop | None = None
_task: asyncio.Task[None] | None = None
_checks: list[Callable[[], None]] = []


def on_beat(check: Callable[[], None]) -> None:
    """Run `check` at every heartbeat (the relay's sweep of unread responses)."""
    _checks.append(check)


async def ensure_alive() -> str:
    """Mark the process alive and start its heartbeat (once per event loop); the holder name."""
    global _loop, _task
    loop = asyncio.get_running_loop()
    if _loop is not loop or _task is None or _task.done():
        _loop = loop
        await gate.mark_alive(HOLDER)
        _task = loop.create_task(_beat())
        # Calls a dead predecessor left behind no longer count against anyone.
        await database_sync_to_async(gate.release_orphans, thread_sensitive=False)()
    return HOLDER


async def _beat() -> None:
    while True:
        await asyncio.sleep(BEAT_S)
        try:
            await gate.mark_alive(HOLDER)
            for check in _checks:
                check()
        except Exception:  # a missed beat must not stop the next one
            log.exception("Team API heartbeat failed")
