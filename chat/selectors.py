"""Read paths shared by the websocket and the JSON API, and their wire shapes."""
from __future__ import annotations

from typing import Any, NamedTuple
from uuid import UUID

from django.db.models import Count, Q, QuerySet, Sum

from accounts.access import offered_model
from gateways import parameters
from gateways.models import Model
from gateways.tariffs import rate_on
from gateways.wire.codes import is_retryable
from usage.models import UsageRecord
from usage.money import format_usd

from . import rows
from .errors import as_uuid
from .models import Conversation, Message


def usage_dict(record: UsageRecord | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {
        "prompt_tokens": record.prompt_tokens,
        "cached_tokens": record.cached_tokens,
        "image_tokens": record.image_tokens,  # the part of prompt_tokens that images cost, as the gateway said
        "completion_tokens": record.completion_tokens,
        "reasoning_tokens": record.reasoning_tokens,
        "total_tokens": record.total_tokens,
        "cost_usd": format_usd(record.cost_ticks),
        "estimated": record.estimated,
    }


def _usage_of(message: Message) -> UsageRecord | None:
    if message.role == Message.Role.USER or message.status == Message.Status.STREAMING:
        return None  # only an ended reply has its ledger row (written with its status): no query
    try:
        return message.usage_record
    except UsageRecord.DoesNotExist:
        return None


def attachment_dicts(parts: list[Any]) -> list[dict[str, Any]]:
    """A message's attachments for the client: `{id, kind, name, mime, size, tokens, url}` (owner-only URL)."""
    return [{"id": p["id"], "kind": p.get("kind"), "name": p.get("name"), "mime": p.get("mime"),
             "size": p.get("size"), "tokens": p.get("tokens"), "url": f"/api/attachments/{p['id']}/",
             "thumb_url": f"/api/attachments/{p['id']}/thumb" if p.get("kind") == "image" else None}
            for p in parts or [] if isinstance(p, dict) and p.get("type") == "attachment"]


def message_dict(message: Message, *, staff: bool = False) -> dict[str, Any]:
    """PROTOCOL.md's message object, plus `error` and `timing` (additions); for staff, the serving `route`."""
    error = None
    if message.status == Message.Status.ERROR:
        error = {"code": message.error_code, "detail": message.error_detail,
                 "retryable": is_retryable(message.error_code)}
    timing = None
    if message.ttft_ms is not None or message.duration_ms is not None:
        timing = {"ttft_ms": message.ttft_ms, "duration_ms": message.duration_ms}
    out = {
        "id": str(message.id),
        "role": message.role,
        "content": message.content,
        "reasoning": message.reasoning,
        "status": message.status,
        "model": message.model_slug,
        "parent": str(message.parent_id) if message.parent_id else None,
        "created_at": message.created_at.isoformat(),
        "finish_reason": message.finish_reason or None,
        "usage": usage_dict(_usage_of(message)),
        "error": error,
        "timing": timing,
    }
    if attachments := attachment_dicts(message.parts):
        out["attachments"] = attachments
    if staff and (record := _usage_of(message)) is not None and record.provider is not None:
        out["route"] = {"provider": record.provider.name, "upstream_id": record.upstream_model}
    return out


def conversation_dict(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": str(conversation.id),
        "title": conversation.title,
        "model": conversation.model.slug if conversation.model_id and conversation.model else None,
        "created_at": conversation.created_at.isoformat(),
        "updated_at": conversation.updated_at.isoformat(),
        "pinned": conversation.pinned,
        "archived": conversation.archived,
    }


def conversation_usage(conversation: Conversation) -> dict[str, Any]:
    """Totals of every ledger row of the conversation (all branches, titles included)."""
    sums = UsageRecord.objects.filter(conversation=conversation).aggregate(
        tokens=Sum("total_tokens"), cost=Sum("cost_ticks"), calls=Count("id"))
    return {"calls": sums["calls"], "tokens": int(sums["tokens"] or 0), "cost_usd": format_usd(int(sums["cost"] or 0))}


def conversation_for(user: Any, conversation_id: UUID | str | None, *,
                     cached_model: bool = False) -> Conversation | None:
    """The user's own conversation, or None — also for someone else's (never reveal it).

    `cached_model`: its model from the per-process cache of offered models (a send reads it
    before every reply): no join, and one query only for a model no longer offered.
    """
    key = as_uuid(conversation_id)
    if key is None:
        return None
    if not cached_model:
        return Conversation.objects.select_related("model").filter(id=key, owner=user).first()
    conversation = rows.get(Conversation, id=key, owner_id=user.pk)  # SQL built once per process
    if conversation is None:
        return None
    if (model := offered_model(conversation.model_id)) is not None:
        conversation.model = model
    return conversation


def message_for(user: Any, message_id: UUID | str | None) -> Message | None:
    key = as_uuid(message_id)
    if key is None:
        return None
    return Message.objects.select_related("conversation").filter(id=key, conversation__owner=user).first()


PROMPT_FIELDS = ("id", "parent_id", "role", "content", "parts", "status")


class PromptTurn(NamedTuple):
    """A message as a prompt needs it (prompting.Turn): read as a row, without building a model instance."""

    key: Any  # its id as the database stores it (a prompt never needs it: not converted)
    role: str
    content: str
    parts: list[Any]
    status: str

    @property
    def id(self) -> UUID | None:
        return None if self.key is None else rows.converter(Message, "id")(self.key)


def visible_branch(conversation: Conversation, *, for_prompt: bool = False) -> list[Any]:
    """The messages on the path from the root to the current leaf, oldest first.

    One query: all of the conversation's messages, walked in memory. A prompt
    needs only a few columns and no usage: `for_prompt` reads just those, as
    plain rows (PromptTurn), as this runs before every reply's first token and
    a long conversation has hundreds of messages.
    """
    if for_prompt:
        return _prompt_branch(conversation)
    messages = {m.id: m for m in Message.objects.filter(conversation=conversation)
                .select_related("usage_record__provider")}
    if not messages:
        return []
    leaf_id = conversation.current_leaf_id
    if leaf_id not in messages:
        leaf_id = max(messages.values(), key=lambda m: m.created_at).id
    branch: list[Any] = []
    node = messages.get(leaf_id)
    while node is not None:
        branch.append(node)
        node = messages.get(node.parent_id) if node.parent_id else None
    branch.reverse()
    return branch


# How a message without parts comes back from the driver (JSON text, or already parsed).
_EMPTY_PARTS: tuple[Any, ...] = ("[]", [])


def _prompt_branch(conversation: Conversation) -> list[PromptTurn]:
    """`visible_branch(for_prompt=True)`: the rows walked as the driver returns them, only the branch's converted.

    Plain SQL built once per process (chat.rows). Converting every row (two UUIDs and the JSON
    parts each) cost about 30 µs a message, a few milliseconds per reply in a long conversation,
    for rows mostly walked past; the walk needs only the keys, compared as the database stores them,
    and a prompt needs no key at all (PromptTurn.id converts one on demand).
    """
    found = {row[0]: row for row in rows.select_raw(Message, PROMPT_FIELDS, conversation_id=conversation.id)}
    if not found:
        return []
    leaf = conversation.current_leaf_id
    row = found.get(rows.db_value(Message, "id", leaf)) if leaf is not None else None
    if row is None:  # the leaf is gone (or none is set): the newest message, as the ORM walk does
        newest = rows.select_raw(Message, ("id", "created_at"), conversation_id=conversation.id)
        when = rows.converter(Message, "created_at")
        row = found[max(newest, key=lambda r: when(r[1]))[0]]
    branch = []
    while row is not None:
        branch.append(row)
        row = found.get(row[1]) if row[1] is not None else None
    branch.reverse()
    parts = rows.converter(Message, "parts")
    return [PromptTurn(r[0], r[2], r[3], [] if r[4] in _EMPTY_PARTS else parts(r[4]), r[5]) for r in branch]


VIEWS = ("", "active", "archived")


def conversations_of(user: Any, q: str = "", view: str = "") -> QuerySet[Conversation]:
    """The user's conversations, newest first; `view` "active" (not archived, pinned first) or "archived"."""
    qs = Conversation.objects.filter(owner=user).select_related("model")
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(messages__content__icontains=q)).distinct()
    if view == "active":
        return qs.filter(archived=False).order_by("-pinned", "-updated_at", "-id")
    if view == "archived":
        qs = qs.filter(archived=True)
    return qs.order_by("-updated_at", "-id")


def model_dict(model: Model) -> dict[str, Any]:
    """PROTOCOL.md's model, priced as its provider bills it today (gateways.tariffs), with its parameters."""
    rate = rate_on(model.provider_id, model)
    return {
        "slug": model.slug,
        "name": model.name,
        "provider": model.provider.name,
        "reasoning": model.reasons,
        "reasoning_style": model.reasoning,
        "vision": model.vision,
        "context_window": model.context_window,
        "price": {
            "input": str(rate.input),
            "cached_input": str(rate.cached_input),
            "output": str(rate.output),
        },
        "simulated": model.provider.simulated,
        "default": model.is_default,
        "params": parameters.accepted(model),
    }
