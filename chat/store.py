"""The runner's storage, backed by the sync services through database_sync_to_async."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from channels.db import database_sync_to_async

from . import services
from .selectors import usage_dict


class DjangoStore:
    async def checkpoint(self, message_id: UUID, content: str, reasoning: str, seq: int) -> None:
        await database_sync_to_async(services.checkpoint)(message_id, content, reasoning, seq)

    async def finish(self, message_id: UUID, ending: services.Ending) -> dict[str, Any] | None:
        _, record = await database_sync_to_async(services.finish)(message_id, ending)
        return usage_dict(record)
