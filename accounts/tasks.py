"""Celery tasks: thin wrappers over the accounts services."""
from __future__ import annotations

import logging

from celery import shared_task

from . import gate

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def release_orphan_reservations() -> int:
    """Free the live-call slots and reserved budget of calls whose web process died."""
    freed = gate.release_orphans()
    if freed:
        log.warning("freed %d reservation(s) held by web processes that stopped", freed)
    return freed
