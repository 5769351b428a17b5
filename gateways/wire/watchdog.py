"""An idle timeout that costs one assignment per chunk, not a timer per chunk.

`asyncio.timeout` around every read schedules and cancels a TimerHandle per
token; at tens of thousands of tokens a second that is a visible share of a
process's CPU. Here one timer wakes at the deadline and, if there was
activity since, simply re-arms for the new deadline.
"""
from __future__ import annotations

import asyncio


class Watchdog:
    """`limit` seconds of silence expire it; so does `until` (loop time), activity or not, until set_limit."""

    def __init__(self, limit: float, until: float | None = None) -> None:
        self.limit = limit
        self.until = until
        self.expired = False
        self.waiting = False  # only a read in progress may be cancelled
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._last = self._loop.time()
        self._handle = self._loop.call_at(self._last + limit, self._check)

    def feed(self) -> None:
        """Activity: push the deadline out."""
        self._last = self._loop.time()

    def set_limit(self, limit: float) -> None:
        self.limit = limit
        self.until = None
        self.feed()
        self._handle.cancel()
        self._handle = self._loop.call_at(self._last + limit, self._check)

    def _check(self) -> None:
        deadline = self._last + self.limit
        if self.until is not None:
            deadline = min(deadline, self.until)
        if self._loop.time() >= deadline and self.waiting:
            self.expired = True
            if self._task is not None:
                self._task.cancel()
        elif self._loop.time() >= deadline:  # busy elsewhere: look again shortly
            self._handle = self._loop.call_at(self._loop.time() + 0.05, self._check)
        else:
            self._handle = self._loop.call_at(deadline, self._check)

    def absorb(self) -> None:
        """Turn our own cancellation into a normal error (asyncio counts cancels per task)."""
        if self._task is not None:
            self._task.uncancel()

    def close(self) -> None:
        self._handle.cancel()
