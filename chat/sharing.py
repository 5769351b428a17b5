"""Read-only share links and exports: a conversation's branch as others may read it.

A share link is a random token naming a conversation and the leaf its branch had
when it was shared, so later messages (and other branches) stay private. It shows
no usage figures. Revoking deletes it: the link answers 404 like any unknown one.
Staff can turn sharing off for the team (SiteSettings.sharing_enabled): links
then answer 404 and no new ones are made, but they come back if it is turned on.
"""
from __future__ import annotations

import secrets
from typing import Any

from django.urls import reverse

from accounts.models import SiteSettings

from . import paging, selectors
from .models import Conversation, Message, Share


def enabled() -> bool:
    return bool(SiteSettings.load().sharing_enabled)


def share(conversation: Conversation) -> Share:
    """Share the visible branch as it is now; the link stays the same when shared again."""
    tree = paging.tree_of(conversation)
    leaf = paging.leaf_of(conversation, tree)
    # A reply still being written is not shared half-done: end the branch at its parent.
    if leaf is not None:
        rows = dict(Message.objects.filter(id__in=tree.path(leaf)).values_list("id", "status"))
        while leaf is not None and rows.get(leaf) == Message.Status.STREAMING:
            leaf = tree.parent.get(leaf)
    found, _ = Share.objects.update_or_create(
        conversation=conversation, defaults={"leaf_id": leaf},
        create_defaults={"leaf_id": leaf, "token": secrets.token_urlsafe(24)},
    )
    return found


def unshare(conversation: Conversation) -> None:
    Share.objects.filter(conversation=conversation).delete()


def share_state(conversation: Conversation) -> dict[str, Any]:
    found = Share.objects.filter(conversation=conversation).first()
    on = enabled()
    return {
        "enabled": on,
        "url": reverse("chat:shared", args=[found.token]) if found and on else None,
        "created_at": found.updated_at.isoformat() if found and on else None,
    }


def shared_branch(token: str) -> tuple[Conversation, list[dict[str, Any]]] | None:
    """What a share link shows: the title and the branch up to its leaf, without usage."""
    if not token or not enabled():
        return None
    found = Share.objects.select_related("conversation").filter(token=token).first()
    if found is None:
        return None
    messages: list[dict[str, Any]] = []
    if found.leaf_id is not None:
        tree = paging.tree_of(found.conversation)
        path = tree.path(found.leaf_id)
        rows = {m.id: m for m in Message.objects.filter(id__in=path)}
        messages = [public_dict(rows[key]) for key in path if key in rows]
    return found.conversation, messages


def public_dict(message: Message) -> dict[str, Any]:
    """A message as a share link shows it: no usage, no timing, no route, no error detail."""
    return {
        "id": str(message.id),
        "role": message.role,
        "content": message.content,
        "reasoning": message.reasoning,
        "model": message.model_slug,
        "status": message.status,
        "created_at": message.created_at.isoformat(),
    }


# Exports ---------------------------------------------------------------------


def conversation_meta(conversation: Conversation) -> dict[str, Any]:
    return {
        **selectors.conversation_dict(conversation),
        "system_prompt": conversation.system_prompt,
        "params": conversation.params,
    }


def branch_dicts(conversation: Conversation) -> list[dict[str, Any]]:
    """Every message of the visible branch, oldest first (for the Markdown export)."""
    return [selectors.message_dict(m) for m in selectors.visible_branch(conversation)]


def export_document(conversation: Conversation) -> dict[str, Any]:
    """The whole conversation: every message of every branch, and which branch is shown."""
    messages = (Message.objects.filter(conversation=conversation).order_by("created_at", "id")
                .select_related("usage_record__provider"))
    items = [selectors.message_dict(m) for m in messages]
    tree = paging.tree_of(conversation)
    leaf = paging.leaf_of(conversation, tree)
    return {
        **conversation_meta(conversation),
        "leaf": str(leaf) if leaf else None,
        "branch": [str(key) for key in tree.path(leaf)] if leaf else [],
        "messages": items,
    }
