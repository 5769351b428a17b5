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
from pydantic import StrictBool

from accounts.access import model_for, models_for
from gateways import parameters
from gateways.wire.codes import ChatError

from . import frames, organize, presets, selectors
from .attachment_api import router as attachment_router
from .conversation_routes import router as conversation_router
from .models import Conversation
from .preset_routes import router as preset_router

router = Router(tags=["chat"])
PAGE = 30
MAX_PAGE = 200
MAX_SEARCH = 200  # characters of `q` (the sidebar's search box holds no more)


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
    params: dict[str, dict[str, Any]]  # addition: the parameters it takes and their limits (gateways.parameters)


class ConversationRow(Schema):
    id: UUID
    title: str
    model: str | None
    updated_at: datetime
    pinned: bool
    archived: bool


class ConversationChanged(ConversationRow):
    leaf: str | None = None  # the last message of the branch shown (after a switch)


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
    leaf: str | None = None  # the last message of the branch shown


class ConversationPatch(Schema):
    title: str | None = None
    pinned: StrictBool | None = None  # "true" or 1 is a body of the wrong type (400), not a bool
    archived: StrictBool | None = None
    model: str | None = None
    system_prompt: str | None = None
    params: frames.Params | None = None  # as a send frame's (chat.frames)
    leaf: str | None = None  # show the branch through this message (its newest continuation)


def _encode_cursor(conversation: Conversation, view: str) -> str:
    raw = f"{conversation.updated_at.isoformat()}|{conversation.id}"
    if view == "active":  # pinned first: the cursor says which part of the list it is in
        raw = f"{int(conversation.pinned)}|{raw}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[bool | None, datetime, UUID]:
    try:
        parts = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        pinned = None
        if len(parts) == 3:
            pinned = parts.pop(0) == "1"
        stamp, key = parts
        return pinned, datetime.fromisoformat(stamp), UUID(key)
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
def list_conversations(request: HttpRequest, q: str = "", cursor: str = "", view: str = "",
                       limit: int = PAGE) -> dict[str, Any]:
    """`view` (addition): "active" = not archived, pinned first; "archived"; absent = all, newest first."""
    if view not in selectors.VIEWS:
        raise HttpError(400, "view must be active or archived.")
    if len(q) > MAX_SEARCH:
        raise HttpError(400, f"Search text is limited to {MAX_SEARCH} characters.")
    size = min(max(limit, 1), MAX_PAGE)
    qs = selectors.conversations_of(request.user, q.strip(), view)
    if cursor:
        pinned, stamp, key = _decode_cursor(cursor)
        later = Q(updated_at__lt=stamp) | Q(updated_at=stamp, id__lt=key)
        qs = qs.filter(Q(pinned__lt=pinned) | (Q(pinned=pinned) & later) if pinned is not None else later)
    rows = list(qs[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return {"results": [selectors.conversation_dict(c) for c in rows],
            "next": _encode_cursor(rows[-1], view) if more else None}


@router.get("/conversations/{conversation_id}/", response=ConversationOut)
def get_conversation(request: HttpRequest, conversation_id: UUID) -> dict[str, Any]:
    conversation = _own(request, conversation_id)
    branch = selectors.visible_branch(conversation)
    return {
        **selectors.conversation_dict(conversation),
        "system_prompt": conversation.system_prompt,
        "params": conversation.params,
        "messages": [selectors.message_dict(m) for m in branch],
        "usage": selectors.conversation_usage(conversation),
        "leaf": str(branch[-1].id) if branch else None,
    }


@router.patch("/conversations/{conversation_id}/", response=ConversationChanged)
def update_conversation(request: HttpRequest, conversation_id: UUID, patch: ConversationPatch) -> dict[str, Any]:
    """Changes reach every tab of the user (conversation.updated); none of them moves the chat in the list."""
    conversation = _own(request, conversation_id)
    changes = patch.dict(exclude_unset=True)
    announced: dict[str, Any] = {}
    if "leaf" in changes:
        leaf = organize.switch_branch(conversation, changes.pop("leaf"))
        announced["leaf"] = str(leaf)
    if "model" in changes:
        model = model_for(request.user, changes.pop("model"))
        if model is None:  # unknown, disabled, or limited to groups this user is not in (accounts.access)
            raise ChatError("model_unavailable", "That model is not available.")
        conversation.model = model
        changes["model"] = model
        announced["model"] = model.slug
        if "params" not in changes:  # what the new model does not take is dropped, not sent upstream
            changes["params"] = parameters.check(model, conversation.params, strict=False)
    if "params" in changes:  # what the conversation's model takes, within its limits (as on send)
        checked = _params(changes["params"])
        model = conversation.model
        changes["params"] = parameters.check(model, changes["params"]) if model is not None else checked
    if "system_prompt" in changes:
        changes["system_prompt"] = presets.check_prompt(changes["system_prompt"])
    if "title" in changes:
        # A title someone chose is never overwritten: titles.write_title only names untitled chats.
        changes["title"] = (changes["title"] or "").strip()[:200]
    for field in ("pinned", "archived"):
        if field in changes and changes[field] is None:
            raise HttpError(400, f"{field} cannot be null.")
    for field, value in changes.items():
        setattr(conversation, field, value)
        if field in organize.LIST_FIELDS:
            announced[field] = value
    if changes:
        conversation.save(update_fields=list(changes))
    if announced:
        organize.announce(conversation, announced)
    return {**selectors.conversation_dict(conversation), "leaf": announced.get("leaf")}


def _params(params: dict[str, Any] | None) -> dict[str, Any]:
    """The generation parameters a send frame may carry (chat.frames.Params), nothing else."""
    try:
        return frames.Params.model_validate(params or {}).model_dump(exclude_none=True)
    except frames.ValidationError as exc:
        raise ChatError("bad_request", f"params: {frames.describe(exc)}") from None


@router.delete("/conversations/{conversation_id}/", response={204: None})
def delete_conversation(request: HttpRequest, conversation_id: UUID) -> tuple[int, None]:
    organize.delete(_own(request, conversation_id))
    return 204, None


# Older pages of a branch, exports and share links; instructions and presets.
router.add_router("/", conversation_router)
router.add_router("/", preset_router)
# Images and files sent with a message.
router.add_router("/", attachment_router)


class ConversationUsageOut(Schema):
    calls: int
    tokens: int
    cost_usd: str


@router.get("/usage/conversations/{conversation_id}", response=ConversationUsageOut,
            summary="Totals of one of the user's own conversations (every branch and its title)")
def conversation_usage(request: HttpRequest, conversation_id: UUID) -> dict[str, Any]:
    return selectors.conversation_usage(_own(request, conversation_id))
