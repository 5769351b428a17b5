"""gateways.wire.locks: httpcore's locks are taken at once when free, and still exclude when held."""
from __future__ import annotations

import asyncio

from httpcore._synchronization import AsyncLock

from gateways.wire import locks


async def test_a_free_lock_is_taken_without_letting_other_tasks_run_first() -> None:
    assert locks.install()
    ran: list[str] = []
    lock = AsyncLock()
    asyncio.get_running_loop().call_soon(ran.append, "other")
    async with lock:
        assert ran == []  # no turn of the event loop on the way in
    await asyncio.sleep(0)
    assert ran == ["other"]


async def test_a_held_lock_is_waited_for() -> None:
    assert locks.install()
    lock = AsyncLock()
    order: list[str] = []

    async def second() -> None:
        async with lock:
            order.append("second")

    async with lock:
        waiting = asyncio.ensure_future(second())
        await asyncio.sleep(0.01)
        order.append("first done")
    await waiting
    assert order == ["first done", "second"]
