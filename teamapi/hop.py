"""A worker-thread call whose outcome the event loop can read the moment the thread is done.

Admission (teamapi.calls.admit) runs in a worker thread while the call's upstream request is
under way, and the first token waits for it. Through asgiref's SyncToAsync its answer reached
the waiting task three to five turns of the event loop after the thread was done (the executor's
future, a shield, the wrapping coroutine's task, then the waiter's): at zero upstream delay
0.1-0.5 ms of the first token's wait. Here the thread leaves its outcome where the loop reads it
directly (`ready`, `result`): a first event that comes after the thread is done goes on at once,
with no turn of the loop. `future` settles one turn after the thread, for whoever must await it.

The same executor threads and database connection handling as channels' database_sync_to_async
(thread_sensitive=False): stale connections closed before the call; after it, once the outcome
is handed over, as the outcome no longer depends on it.
"""
from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db import close_old_connections

T = TypeVar("T")


class Hop(Generic[T]):
    """`fn(*args)` in the loop's default executor, once `start()`ed.

    Wait for `future` with asyncio.wait or a done callback, never by awaiting or cancelling it: the
    thread runs on whatever its waiter does, and whoever frees what it made (a Reservation) must
    know when it is done.
    """

    def __init__(self, fn: Callable[..., T], *args: Any) -> None:
        self._loop = asyncio.get_running_loop()
        self.future: asyncio.Future[T] = self._loop.create_future()
        self._call = fn, args
        self._value: T | None = None
        self._error: BaseException | None = None
        self.ready = False  # set by the thread, after the outcome

    def start(self) -> Hop[T]:
        context = contextvars.copy_context()
        self._loop.run_in_executor(None, context.run, self._run, *self._call)
        return self

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...]) -> None:
        close_old_connections()
        try:
            self._value = fn(*args)
        except BaseException as exc:  # handed to the loop: raised where the outcome is read
            self._error = exc
        self.ready = True  # after the outcome: the loop reads it as soon as it sees this
        try:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (shutting down)
                self._loop.call_soon_threadsafe(self._settle)
        finally:
            close_old_connections()

    def _settle(self) -> None:
        if self.future.done():
            return
        if self._error is not None:
            self.future.set_exception(self._error)
        else:
            self.future.set_result(self._value)  # type: ignore[arg-type]

    def result(self) -> T:
        """The thread's outcome once `ready` (raises what the call raised; the future's own is then marked
        as read), else the future's (raises InvalidStateError while it runs, CancelledError if never started)."""
        if not self.ready:
            return self.future.result()
        self.future.add_done_callback(_read)
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


def _read(future: asyncio.Future[Any]) -> None:
    """Its outcome was read through Hop.result: no 'exception was never retrieved' for it."""
    if not future.cancelled():
        future.exception()
