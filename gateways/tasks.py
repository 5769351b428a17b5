"""Celery: periodic model discovery (scheduled in settings.CELERY_BEAT_SCHEDULE) and attempt-log pruning."""
from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from .discovery import discover_all
from .models import Attempt

KEEP_ATTEMPTS = timedelta(days=8)


@shared_task(ignore_result=True, acks_late=True)
def discover_models() -> list[str]:
    return [result.summary() for result in discover_all()]


@shared_task(ignore_result=True)
def prune_attempts() -> int:
    """Health shows a day at most; keep a week for a look back, drop the rest."""
    deleted, _ = Attempt.objects.filter(at__lt=timezone.now() - KEEP_ATTEMPTS).delete()
    return deleted
