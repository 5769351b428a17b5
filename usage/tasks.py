"""Celery beat task: keep the daily rollups up to date (settings.CELERY_BEAT_SCHEDULE)."""
from __future__ import annotations

from celery import shared_task

from . import rollups


@shared_task(ignore_result=True, acks_late=True)
def refresh_rollups() -> int:
    """Roll up the ledger rows written since the last run; the number of days rebuilt."""
    return len(rollups.refresh())
