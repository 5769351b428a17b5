"""teamapi.eager and teamapi.hop: the relay's "is the next event already here?" and admission's thread hop."""
from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest

from teamapi.eager import now
from teamapi.hop import Hop


async def test_an_awaitable_that_needs_no_wait_is_answered_at_once() -> None:
    async def ready() -> int:
        return 7

    assert now(ready()) == (7, None)


async def test_an_awaitable_that_waits_is_finished_later_as_if_it_had_been_awaited() -> None:
    arrived: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def reading() -> str:
        return (await arrived) + "!"

    value, later = now(reading())
    assert value is None and later is not None
    asyncio.get_running_loop().call_soon(arrived.set_result, "token")
    assert await later == "token!"


async def test_what_arrived_while_it_was_set_aside_is_taken_without_waiting_again() -> None:
    arrived: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def reading() -> str:
        return await arrived

    _, later = now(reading())
    assert later is not None
    arrived.set_result("there")
    assert await later == "there"


async def test_an_error_is_raised_by_now_or_by_the_rest() -> None:
    async def broken() -> None:
        raise ValueError("at once")

    with pytest.raises(ValueError, match="at once"):
        now(broken())
    arrived: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def broken_later() -> None:
        await arrived
        raise ValueError("later")

    _, later = now(broken_later())
    assert later is not None
    arrived.set_result(None)
    with pytest.raises(ValueError, match="later"):
        await later


async def test_a_stopped_read_of_an_async_generator_lets_the_generator_close() -> None:
    """Dropped half-way, the generator would refuse aclose() ("already running"); stopped, it cleans up."""
    arrived: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    cleaned: list[str] = []

    async def events() -> AsyncIterator[int]:
        try:
            yield 1
            yield await arrived
        finally:
            cleaned.append("closed")

    stream = events()
    assert now(anext(stream)) == (1, None)
    _, later = now(anext(stream))
    assert later is not None
    await later.stop()
    assert cleaned == ["closed"]
    await stream.aclose()  # already finished: no RuntimeError


async def test_cancelling_the_task_that_awaits_the_rest_cancels_the_awaitable_where_it_waits() -> None:
    arrived: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def reading() -> int:
        try:
            return await arrived
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    async def consumer() -> int:
        _, later = now(reading())
        assert later is not None
        return await later

    task = asyncio.ensure_future(consumer())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"]


async def test_a_hop_outcome_is_readable_the_moment_its_thread_is_done() -> None:
    release = threading.Event()
    hop = Hop(lambda: release.wait(5) and "admitted").start()
    assert not hop.ready
    release.set()
    done, _ = await asyncio.wait([hop.future], timeout=5)
    assert done and hop.ready and hop.result() == "admitted" and hop.future.result() == "admitted"


async def test_a_hop_raises_what_its_call_raised_both_ways() -> None:
    def refuse() -> None:
        raise PermissionError("refused")

    hop = Hop(refuse).start()
    await asyncio.wait([hop.future], timeout=5)
    with pytest.raises(PermissionError):
        hop.result()
    assert isinstance(hop.future.exception(), PermissionError)
