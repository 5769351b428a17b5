"""Run an awaitable as far as it goes without waiting: its result now, or the rest of it for later.

The relay sends the events of one upstream read together (teamapi.relay.sse): it must know
whether the next event is already there (parsed from the read in hand) or needs the network.
Only the awaitable itself knows that, by whether it suspends. `now` drives it one step in the
calling task, as an `await` would: if it finishes, that is the answer; if it stops to wait for a
future, `Later` is the rest of it, to be awaited in the same task (the upstream stream's idle
watchdog cancels the task that reads) or stopped with `stop()`, never dropped: an async
generator left half-way through a step refuses to be closed ("already running").
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Generator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Later(Generic[T]):
    """The rest of an awaitable that stopped to wait: await it once, or `stop()` it."""

    __slots__ = ("_step", "_waiting")

    def __init__(self, step: Generator[Any, None, T], waiting: Any) -> None:
        self._step = step
        self._waiting = waiting

    def __await__(self) -> Generator[Any, None, T]:
        return _rest(self._step, self._waiting)

    async def stop(self) -> None:
        """Cancel it where it waits (its cleanup runs, as for a cancelled task) and wait for it to end."""
        try:
            await _Thrown(self._step, asyncio.CancelledError())
        except (asyncio.CancelledError, Exception):  # ended, as asked (or by its own error: it is ended anyway)
            pass


def now(awaitable: Awaitable[T]) -> tuple[T | None, Later[T] | None]:
    """(its result, None) if it finished without waiting, else (None, the rest of it). Raises what it raised."""
    step = awaitable.__await__()
    try:
        waiting = step.send(None)
    except StopIteration as stop:
        return stop.value, None
    return None, Later(step, waiting)


class _Thrown(Generic[T]):
    __slots__ = ("_exc", "_step")

    def __init__(self, step: Generator[Any, None, T], exc: BaseException) -> None:
        self._step, self._exc = step, exc

    def __await__(self) -> Generator[Any, None, T]:
        return _thrown(self._step, self._exc)


def _rest(step: Generator[Any, None, T], waiting: Any) -> Generator[Any, None, T]:
    """As if `step` had been awaited all along: the task waits for what it was waiting for, then goes on."""
    if not (asyncio.isfuture(waiting) and waiting.done()):  # done while we were away: no turn of the loop
        try:
            yield waiting
        except BaseException as exc:  # thrown into the waiting task (a cancellation): it is the step's
            return (yield from _thrown(step, exc))
    return (yield from step)


def _thrown(step: Generator[Any, None, T], exc: BaseException) -> Generator[Any, None, T]:
    try:
        waiting = step.throw(exc)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    return (yield from _rest(step, waiting))
