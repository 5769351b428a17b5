"""Celery tasks: thin wrappers over services."""
from __future__ import annotations

from uuid import UUID

from celery import shared_task

from .models import Conversation


@shared_task(ignore_result=True, autoretry_for=(), acks_late=True)
def generate_title(conversation_id: str) -> None:
    from .titles import write_title

    write_title(UUID(conversation_id))


@shared_task(ignore_result=True)
def prune_attachments() -> int:
    """Uploads never sent are deleted after a day, their files with them."""
    from .uploads import prune

    return prune()


def request_title(conversation_id: UUID) -> None:
    """Queue a title for an untitled conversation (runs in-process when no broker is set)."""
    if Conversation.objects.filter(id=conversation_id, title="").exists():
        generate_title.delay(str(conversation_id))
