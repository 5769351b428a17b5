"""Pages of a conversation's visible branch, bounded in count and in bytes.

A snapshot carries the latest page and a cursor; older pages are read with
`GET /api/conversations/{id}/messages?before=`. The tree is read as two columns
of every message (cheap at 10,000 messages); full rows only for the page.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.conf import settings

from .branches import Page, Tree, fit, page_before
from .models import Conversation, Message
from .selectors import message_dict

PAGE_MESSAGES = 40  # a screenful or two of turns; older ones come on scroll
# Room kept in a frame for the conversation, live text of a running reply and the envelope.
FRAME_RESERVE = 16 * 1024


@dataclass(frozen=True)
class BranchPage:
    messages: list[dict[str, Any]]  # message objects, oldest first, with `siblings`
    more: bool  # older messages exist on this branch
    cursor: str | None  # pass as `before` for the page before this one
    leaf: str | None  # the branch's last message


def frame_budget() -> int:
    return int(settings.GROKWEB["MAX_FRAME_BYTES"]) - FRAME_RESERVE


def tree_of(conversation: Conversation) -> Tree[UUID]:
    rows = Message.objects.filter(conversation=conversation).order_by("created_at", "id").values_list("id", "parent_id")
    return Tree.build(rows)


def leaf_of(conversation: Conversation, tree: Tree[UUID]) -> UUID | None:
    leaf = conversation.current_leaf_id
    return leaf if leaf in tree else tree.latest()


def json_size(obj: Any) -> int:
    return len(json.dumps(obj, ensure_ascii=False).encode())


def branch_page(
    conversation: Conversation, *, before: UUID | None = None, limit: int = PAGE_MESSAGES, staff: bool = False,
    budget: int | None = None, live_bytes: int = 0,
) -> BranchPage:
    """The page of the visible branch that ends just before `before` (None: the newest page).

    Its JSON stays under the frame budget (minus `live_bytes` of live text that goes with
    it); a single message too large for it is cut (`truncated`).
    """
    tree = tree_of(conversation)
    leaf = leaf_of(conversation, tree)
    if leaf is None:
        return BranchPage([], False, None, None)
    path = tree.path(leaf)
    page: Page[UUID] = page_before(path, before, limit)
    rows = {m.id: m for m in Message.objects.filter(id__in=page.keys).select_related("usage_record__provider")}
    dicts: dict[UUID, dict[str, Any]] = {}
    for key in page.keys:
        if key in rows:
            out = message_dict(rows[key], staff=staff)
            out["siblings"] = [str(s) for s in tree.siblings(key)]
            dicts[key] = out
    room = (frame_budget() if budget is None else budget) - live_bytes
    sizes = {key: json_size(d) for key, d in dicts.items()}
    kept = fit([k for k in page.keys if k in dicts], sizes.__getitem__, room)
    if kept and sizes[kept[0]] > room:
        cut(dicts[kept[0]], room)
    more = page.more or len(kept) < len(page.keys)
    return BranchPage([dicts[k] for k in kept], more, str(kept[0]) if kept and more else None, str(leaf))


def cut(message: dict[str, Any], room: int) -> None:
    """Shorten a message object to at most `room` bytes of JSON, and say so (`truncated`)."""
    message["truncated"] = True
    for field in ("reasoning", "content"):
        if json_size(message) <= room:
            return
        text = message.get(field) or ""
        low, high = 0, len(text)
        while low < high:  # the longest prefix that fits (a rare case: ~20 tries)
            mid = (low + high + 1) // 2
            message[field] = text[:mid]
            if json_size(message) <= room:
                low = mid
            else:
                high = mid - 1
        message[field] = text[:low]


def with_siblings(conversation: Conversation, messages: list[Message], *, staff: bool = False) -> list[dict[str, Any]]:
    """Message objects with `siblings` (for message.created)."""
    parents = {m.parent_id for m in messages}
    rows = Message.objects.filter(conversation=conversation).order_by("created_at", "id")
    if None in parents:
        rows = rows.filter(parent__isnull=True) | rows.filter(parent_id__in=[p for p in parents if p])
    else:
        rows = rows.filter(parent_id__in=parents)
    by_parent: dict[Any, list[str]] = {}
    for key, parent in rows.values_list("id", "parent_id"):
        by_parent.setdefault(parent, []).append(str(key))
    out = []
    for message in messages:
        item = message_dict(message, staff=staff)
        item["siblings"] = by_parent.get(message.parent_id, [str(message.id)])
        out.append(item)
    return out
