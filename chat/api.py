"""The chat's JSON endpoints (PROTOCOL.md, HTTP): models, conversations, a conversation's usage.

Mounted by grokweb.api with the other apps' routers: session-authenticated, CSRF-checked writes.
"""
from __future__ import annotations

import base64
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import Q
from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError

from accounts.access import model_for, models_for
from gateways.wire.codes import ChatError

from . import selectors
from .models import Conversation

router = Router(tags=["chat"])
PAGE = 30


class PriceOut(Schema):
    input: str
    cached_input: str
    output: str


class ModelOut(Schema):
    slug: str
    name: str
    provider: str
    reasoning: bool
    reasoning_style: str
    vision: bool
    context_window: int
    price: PriceOut
    simulated: bool
    default: bool


class ConversationRow(Schema):
    id: UUID
    title: str
    model: str | None
    updated_at: datetime
    pinned: bool
    archived: bool


class ConversationPage(Schema):
    results: list[ConversationRow]
    next: str | None


class ConversationOut(Schema):
    id: UUID
    title: str
    model: str | None
    system_prompt: str
    params: dict[str, Any]
    messages: list[dict[str, Any]]
    usage: dict[str, Any] | None = None  # totals of every ledger row of the conversation (usage app)


class ConversationPatch(Schema):
    title: str | None = None
    pinned: bool | None = None
    archived: bool | None = None
    model: str | None = None
    system_prompt: str | None = None
    params: dict[str, Any] | None = None


def _encode_cursor(conversation: Conversation) -> str:
    raw = f"{conversation.updated_at.isoformat()}|{conversation.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        stamp, key = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(stamp), UUID(key)
    except (ValueError, UnicodeDecodeError):
        raise HttpError(400, "The cursor is not valid.") from None


def _own(request: HttpRequest, conversation_id: UUID) -> Conversation:
    conversation = selectors.conversation_for(request.user, conversation_id)
    if conversation is None:
        raise HttpError(404, "Not found.")
    return conversation


@router.get("/models/", response=list[ModelOut])
def list_models(request: HttpRequest) -> list[dict[str, Any]]:
    return [selectors.model_dict(m) for m in models_for(request.user)]


@router.get("/conversations/", response=ConversationPage)
def list_conversations(request: HttpRequest, q: str = "", cursor: str = "") -> dict[str, Any]:
    qs = selectors.conversations_of(request.user, q.strip()[:200])
    if cursor:
        stamp, key = _decode_cursor(cursor)
        qs = qs.filter(Q(updated_at__lt=stamp) | Q(updated_at=stamp, id__lt=key))
    rows = list(qs[: PAGE + 1])
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return {"results": [selectors.conversation_dict(c) for c in rows],
            "next": _encode_cursor(rows[-1]) if more else None}


@router.get("/conversations/{conversation_id}/", response=ConversationOut)
def get_conversation(request: HttpRequest, conversation_id: UUID) -> dict[str, Any]:
    conversation = _own(request, conversation_id)
    return {
        **selectors.conversation_dict(conversation),
        "system_prompt": conversation.system_prompt,
        "params": conversation.params,
        "messages": [selectors.message_dict(m) for m in selectors.visible_branch(conversation)],
        "usage": selectors.conversation_usage(conversation),
    }


@router.patch("/conversations/{conversation_id}/", response=ConversationRow)
def update_conversation(request: HttpRequest, conversation_id: UUID, patch: ConversationPatch) -> dict[str, Any]:
    conversation = _own(request, conversation_id)
    changes = patch.dict(exclude_unset=True)
    if "model" in changes:
        model = model_for(request.user, changes.pop("model"))
        if model is None:  # unknown, disabled, or limited to groups this user is not in (accounts.access)
            raise ChatError("model_unavailable", "That model is not available.")
        conversation.model = model
    if "title" in changes:
        changes["title"] = (changes["title"] or "").strip()[:200]
    for field, value in changes.items():
        setattr(conversation, field, value)
    conversation.save()
    return selectors.conversation_dict(conversation)


@router.delete("/conversations/{conversation_id}/", response={204: None})
def delete_conversation(request: HttpRequest, conversation_id: UUID) -> tuple[int, None]:
    _own(request, conversation_id).delete()
    return 204, None


class ConversationUsageOut(Schema):
    calls: int
    tokens: int
    cost_usd: str


@router.get("/usage/conversations/{conversation_id}", response=ConversationUsageOut,
            summary="Totals of one of the user's own conversations (every branch and its title)")
def conversation_usage(request: HttpRequest, conversation_id: UUID) -> dict[str, Any]:
    return selectors.conversation_usage(_own(request, conversation_id))
