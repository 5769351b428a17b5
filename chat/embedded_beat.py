"""Celery beat's schedule, run inside the web process when there is no broker (`make run`).

Without `REDIS_URL` tasks run in-process and no beat is running, so the periodic
work (usage rollups, model discovery, pruning) would never happen. The hub starts
these loops instead; each entry's task is called in a worker thread every
`schedule` seconds, the first time one interval after start-up.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async

log = logging.getLogger(__name__)


def _task(path: str) -> Callable[[], Any]:
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)  # type: ignore[no-any-return]


def intervals(schedule: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """Task path -> seconds, for the entries given in seconds (crontab entries need a real beat)."""
    found: dict[str, float] = {}
    for name, entry in schedule.items():
        every = entry.get("schedule")
        if isinstance(every, int | float) and every > 0:
            found[entry["task"]] = float(every)
        else:
            log.warning("beat entry %s is not in seconds: it runs only under celery beat", name)
    return found


async def run_every(path: str, seconds: float) -> None:
    """Call the task at `path` every `seconds`; a failure is logged and the loop goes on."""
    call = database_sync_to_async(_task(path), thread_sensitive=False)
    while True:
        await asyncio.sleep(seconds)
        try:
            await call()
        except Exception:
            log.exception("periodic task %s failed", path)
