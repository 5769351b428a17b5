"""Write paths of the sidebar and the branch switcher: rename, pin, archive, delete, switch.

Each change is told to every tab of the user (`conversation.updated` with the
changed fields, or `conversation.deleted`), so a second tab follows at once.
"""
from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db import transaction

from gateways.wire.codes import ChatError

from . import broadcast, paging
from .errors import as_uuid
from .models import Conversation, Message

LIST_FIELDS = ("title", "pinned", "archived")


def switch_branch(conversation: Conversation, message_id: Any) -> UUID:
    """Show the branch through `message_id` (its newest continuation); remembered for every tab."""
    key = as_uuid(message_id)
    if key is None or not Message.objects.filter(id=key, conversation=conversation).exists():
        raise ChatError("not_found", "That message does not exist.")
    leaf = paging.tree_of(conversation).newest_leaf(key)
    # Not `updated_at`: looking at another version is not activity, the chat keeps its place in the list.
    Conversation.objects.filter(id=conversation.id).update(current_leaf_id=leaf)
    conversation.current_leaf_id = leaf
    return leaf


def announce(conversation: Conversation, changed: dict[str, Any]) -> None:
    """conversation.updated with what changed (and what a list row needs to place it)."""
    frame = {"id": str(conversation.id), "title": conversation.title, **changed}
    if set(changed) & {"archived", "pinned"}:  # a row may (re)appear in another view: send the whole row
        frame.update(pinned=conversation.pinned, archived=conversation.archived,
                     updated_at=conversation.updated_at.isoformat(),
                     model=conversation.model.slug if conversation.model_id and conversation.model else None)
    broadcast.to_user(conversation.owner_id, {"type": "conversation.updated", "conversation": frame})


def delete(conversation: Conversation) -> None:
    owner, key = conversation.owner_id, str(conversation.id)
    with transaction.atomic():
        conversation.delete()
        broadcast.to_user(owner, {"type": "conversation.deleted", "conversation": key})
