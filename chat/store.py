"""The runner's storage, backed by the sync services through database_sync_to_async."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from uuid import UUID

from channels.db import database_sync_to_async

from gateways.attempts import Attempted

from . import services
from .selectors import usage_dict


class Rows:
    """Whether a reply's rows were written: a reply started before them (the fast start, chat.consumers)
    waits for this before it stores or publishes anything, and stores and publishes nothing if they
    were not (admission refused it under the lock, a repeated request_id, a failed write)."""

    def __init__(self) -> None:
        self._settled = asyncio.Event()
        self.written = False

    def settle(self, written: bool) -> None:
        self.written = written
        self._settled.set()

    async def wait(self) -> bool:
        await self._settled.wait()
        return self.written


class DjangoStore:
    """One reply's storage. `attempts` fills while it streams (gateways.attempts.buffered) and is
    written with the ending, in the same thread hop; `untitled` tells, after `finish`, whether the
    conversation still needs a title."""

    def __init__(self, planned: services.Planned | None = None, rows: Rows | None = None) -> None:
        self.attempts: list[Attempted] = []
        self.untitled = False
        self.planned = planned  # the reply's rows as planned: its ending reads none of them first
        self.rows = rows  # set when the reply started before its rows were written
        # Someone else ended the reply (an orphan sweep that took its process for dead): its tabs
        # had their end frame, so this runner publishes nothing more and stops (`stop`).
        self.ended_elsewhere = False
        self.stop: Callable[[], None] = lambda: None

    async def _no_rows(self) -> bool:
        return self.rows is not None and not await self.rows.wait()

    async def checkpoint(self, message_id: UUID, content: str, reasoning: str, seq: int) -> None:
        if await self._no_rows():
            return
        if not await database_sync_to_async(services.checkpoint)(message_id, content, reasoning, seq):
            self.ended_elsewhere = True
            self.stop()

    async def finish(self, message_id: UUID, ending: services.Ending) -> dict[str, Any] | None:
        if await self._no_rows():
            self.attempts.clear()
            return None
        planned = self.planned if self.planned is not None and self.planned.message_id == message_id else None
        if planned is not None:
            record, ended_here = await database_sync_to_async(_finish_planned)(planned, ending, tuple(self.attempts))
            # Untitled when planned: the title task checks again (a title may have come meanwhile).
            self.untitled = not planned.titled
        else:
            message, record, ended_here = await database_sync_to_async(_finish)(message_id, ending,
                                                                               tuple(self.attempts))
            self.untitled = not message.conversation.title
        if not ended_here:
            self.ended_elsewhere = True
        self.attempts.clear()
        return record

    async def end_anyway(self, message_id: UUID, ending: services.Ending) -> dict[str, Any] | None:
        if await self._no_rows():
            return None
        record = await database_sync_to_async(services.end_anyway)(message_id, ending, tuple(self.attempts))
        self.attempts.clear()
        return usage_dict(record)


def _finish_planned(planned: services.Planned, ending: services.Ending,
                    attempts: tuple[Attempted, ...]) -> tuple[Any, bool]:
    record, ended_here = services.finish_planned_once(planned, ending, attempts)
    return usage_dict(record), ended_here


def _finish(message_id: UUID, ending: services.Ending, attempts: tuple[Attempted, ...]) -> tuple[Any, Any, bool]:
    message, record, ended_here = services.finish_once(message_id, ending, attempts)
    return message, usage_dict(record), ended_here
