"""The runner's storage, backed by the sync services through database_sync_to_async."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from channels.db import database_sync_to_async

from gateways.attempts import Attempted

from . import services
from .selectors import usage_dict


class DjangoStore:
    """One reply's storage. `attempts` fills while it streams (gateways.attempts.buffered) and is
    written with the ending, in the same thread hop; `untitled` tells, after `finish`, whether the
    conversation still needs a title."""

    def __init__(self, planned: services.Planned | None = None) -> None:
        self.attempts: list[Attempted] = []
        self.untitled = False
        self.planned = planned  # the reply's rows as planned: its ending reads none of them first
        # Someone else ended the reply (an orphan sweep that took its process for dead): its tabs
        # had their end frame, so this runner publishes nothing more and stops (`stop`).
        self.ended_elsewhere = False
        self.stop: Callable[[], None] = lambda: None

    async def checkpoint(self, message_id: UUID, content: str, reasoning: str, seq: int) -> None:
        if not await database_sync_to_async(services.checkpoint)(message_id, content, reasoning, seq):
            self.ended_elsewhere = True
            self.stop()

    async def finish(self, message_id: UUID, ending: services.Ending) -> dict[str, Any] | None:
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
