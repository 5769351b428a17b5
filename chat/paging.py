"""Pages of a conversation's visible branch, bounded in count and in bytes.

A snapshot carries the latest page and a cursor; older pages are read with
`GET /api/conversations/{id}/messages?before=`. A page is found by walking up
from its last message through parent links (one recursive query on primary
keys), so it costs the same in a conversation of 10 or 10,000 messages; its
messages' siblings come from one more query on the parent index.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connection

from . import rows as rows_sql
from .branches import Tree, fit
from .models import Conversation, Message
from .selectors import conversation_dict, conversation_for, message_dict

PAGE_MESSAGES = 30  # a few screens of turns; older ones come on scroll
# Room kept in a frame for the conversation, live text of a running reply and the envelope.
FRAME_RESERVE = 16 * 1024
LIVE_RESERVE = 32 * 1024  # what a snapshot keeps free for the live text of a running reply


@dataclass(frozen=True)
class BranchPage:
    messages: list[dict[str, Any]]  # message objects, oldest first, with `siblings`
    more: bool  # older messages exist on this branch
    cursor: str | None  # pass as `before` for the page before this one
    leaf: str | None  # the branch's last message
    streaming: list[Message] = field(default_factory=list)  # replies on the page still being written


def frame_budget() -> int:
    return int(settings.GROKWEB["MAX_FRAME_BYTES"]) - FRAME_RESERVE


def tree_of(conversation: Conversation) -> Tree[UUID]:
    rows = Message.objects.filter(conversation=conversation).order_by("created_at", "id").values_list("id", "parent_id")
    return Tree.build(rows)


def leaf_of(conversation: Conversation, tree: Tree[UUID]) -> UUID | None:
    leaf = conversation.current_leaf_id
    return leaf if leaf in tree else tree.latest()


def stored_leaf(conversation: Conversation) -> UUID | None:
    """The leaf the conversation shows, without reading its tree."""
    leaf = conversation.current_leaf_id
    # By primary key only: SQLite would otherwise scan the conversation's index.
    if leaf is not None and Message.objects.filter(id=leaf).values_list("conversation_id", flat=True).first() \
            == conversation.id:
        return leaf
    newest = Message.objects.filter(conversation=conversation).order_by("-created_at", "-id").values_list(
        "id", flat=True).first()
    return newest


WALK_UP = """
WITH RECURSIVE up(id, parent_id, depth) AS (
    SELECT id, parent_id, 0 FROM {table} WHERE id = %s
    UNION ALL
    SELECT m.id, m.parent_id, up.depth + 1 FROM {table} m JOIN up ON m.id = up.parent_id WHERE up.depth < %s
)
SELECT id, parent_id FROM up ORDER BY depth
"""


def walk_up(start: UUID, steps: int) -> list[tuple[UUID, UUID | None]]:
    """`start` and up to `steps` of its ancestors, newest first: primary-key lookups only."""
    pk = Message._meta.pk
    assert pk is not None
    sql = WALK_UP.format(table=connection.ops.quote_name(Message._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk.get_db_prep_value(start, connection), steps])
        rows = cursor.fetchall()
    return [(_uuid(key), _uuid(up) if up is not None else None) for key, up in rows]


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else uuid.UUID(str(value))


def siblings_of(conversation: Conversation, parents: set[UUID | None]) -> dict[UUID | None, list[str]]:
    """Children of each of `parents` (None: the conversation's first messages), oldest first."""
    out: dict[UUID | None, list[str]] = {}
    if not parents:
        return out
    if None not in parents:  # plain SQL built once (chat.rows): every send asks this before its reply starts
        for key, parent in rows_sql.children(list(parents)):  # type: ignore[arg-type]
            out.setdefault(parent, []).append(str(key))
        return out
    rows = Message.objects.filter(parent_id__in=[p for p in parents if p is not None])
    if None in parents:
        rows = rows | Message.objects.filter(conversation=conversation, parent__isnull=True)
    for key, parent in rows.order_by("created_at", "id").values_list("id", "parent_id"):
        out.setdefault(parent, []).append(str(key))
    return out


def json_size(obj: Any) -> int:
    return len(json.dumps(obj, ensure_ascii=False).encode())


def branch_page(
    conversation: Conversation, *, before: UUID | None = None, limit: int = PAGE_MESSAGES, staff: bool = False,
    budget: int | None = None, live_bytes: int = 0,
) -> BranchPage:
    """The page of the visible branch that ends just before `before` (None: the newest page).

    `before` must be on the visible branch's path to be meaningful; a message of this
    conversation elsewhere gives the page above it on its own branch. Its JSON stays under
    the frame budget (minus `live_bytes` of live text that goes with it); a single message
    too large for it is cut (`truncated`).
    """
    leaf = stored_leaf(conversation)
    if leaf is None:
        return BranchPage([], False, None, None)
    if before is None:
        walked = walk_up(leaf, limit)  # the leaf and `limit` ancestors: one more than a page
    else:
        found = Message.objects.filter(id=before).values_list("conversation_id", "parent_id").first()
        start = found[1] if found is not None and found[0] == conversation.id else None
        walked = walk_up(start, limit) if start is not None else []
    keys = [key for key, _ in walked[:limit]][::-1]
    more = len(walked) > limit
    # Ancestors of a message of this conversation are in it: select by primary key alone.
    rows = {m.id: m for m in Message.objects.filter(id__in=keys).select_related("usage_record__provider")}
    keys = [k for k in keys if k in rows]
    family = siblings_of(conversation, {rows[k].parent_id for k in keys})
    dicts: dict[UUID, dict[str, Any]] = {}
    for key in keys:
        out = message_dict(rows[key], staff=staff)
        out["siblings"] = family.get(rows[key].parent_id, [str(key)])
        dicts[key] = out
    room = (frame_budget() if budget is None else budget) - live_bytes
    sizes = {key: json_size(d) for key, d in dicts.items()}
    kept = fit(keys, sizes.__getitem__, room)
    if kept and sizes[kept[0]] > room:
        cut(dicts[kept[0]], room)
    more = more or len(kept) < len(keys)
    streaming = [rows[k] for k in kept if rows[k].status == Message.Status.STREAMING]
    return BranchPage([dicts[k] for k in kept], more, str(kept[0]) if kept and more else None, str(leaf),
                      streaming)


def snapshot_fields(conversation: Conversation, page: BranchPage) -> dict[str, Any]:
    """What `conversation.snapshot` says of the conversation and its latest page (everything but `live`)."""
    return {"conversation": {**conversation_dict(conversation), "leaf": page.leaf,
                             "system_prompt": conversation.system_prompt, "params": conversation.params},
            "messages": page.messages, "more": page.more, "cursor": page.cursor}


def opening(user: Any, conversation_id: UUID) -> dict[str, Any] | None:
    """The latest page the chat page carries in its HTML (None: not this user's conversation).

    The browser paints it before its websocket has answered; the snapshot that follows is
    still the truth (live text, `seq`) and replaces it. The same page as that snapshot's,
    so nothing changes on screen when it arrives.
    """
    conversation = conversation_for(user, conversation_id)
    if conversation is None:
        return None
    page = branch_page(conversation, staff=user.is_staff, live_bytes=LIVE_RESERVE)
    return snapshot_fields(conversation, page)


def cut(message: dict[str, Any], room: int) -> None:
    """Shorten a message object to at most `room` bytes of JSON, and say so (`truncated`)."""
    message["truncated"] = True
    for name in ("reasoning", "content"):
        if json_size(message) <= room:
            return
        text = message.get(name) or ""
        low, high = 0, len(text)
        while low < high:  # the longest prefix that fits (a rare case: ~20 tries)
            mid = (low + high + 1) // 2
            message[name] = text[:mid]
            if json_size(message) <= room:
                low = mid
            else:
                high = mid - 1
        message[name] = text[:low]


def with_siblings(conversation: Conversation, messages: list[Message], *, staff: bool = False) -> list[dict[str, Any]]:
    """Message objects with `siblings` (for message.created)."""
    family = siblings_of(conversation, {m.parent_id for m in messages})
    out = []
    for message in messages:
        item = message_dict(message, staff=staff)
        item["siblings"] = family.get(message.parent_id, [str(message.id)])
        out.append(item)
    return out
