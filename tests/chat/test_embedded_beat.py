"""Without a broker the web process runs beat's schedule itself (rollups, discovery, pruning)."""
from __future__ import annotations

import asyncio
import threading

from celery.schedules import crontab
from django.conf import settings

from chat import embedded_beat

CALLS: list[str] = []
SECOND_CALL = threading.Event()


def flaky() -> None:
    """Fails the first time, then records the call: the loop must survive the failure."""
    CALLS.append("call")
    if len(CALLS) == 1:
        raise RuntimeError("first run fails")
    SECOND_CALL.set()


def test_every_entry_of_the_real_schedule_runs_embedded_and_imports() -> None:
    found = embedded_beat.intervals(settings.CELERY_BEAT_SCHEDULE)
    assert set(found) == {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert found["usage.tasks.refresh_rollups"] == 300.0
    for path in found:
        assert callable(embedded_beat._task(path))


def test_crontab_entries_are_left_to_a_real_beat() -> None:
    schedule = {"a": {"task": "x.y", "schedule": 60.0}, "b": {"task": "x.z", "schedule": crontab(minute=0)}}
    assert embedded_beat.intervals(schedule) == {"x.y": 60.0}


async def test_a_failing_run_is_logged_and_the_next_one_still_happens(caplog) -> None:
    CALLS.clear()
    SECOND_CALL.clear()
    loop = asyncio.create_task(embedded_beat.run_every(f"{__name__}.flaky", 0.01))
    try:
        assert await asyncio.to_thread(SECOND_CALL.wait, 10)
    finally:
        loop.cancel()
    assert len(CALLS) >= 2
    assert "periodic task tests.chat.test_embedded_beat.flaky failed" in caplog.text
