"""More of a conversation over HTTP: older pages of its branch, downloads, share links.

Mounted on the chat API. Another user's conversation answers 404, like one that
does not exist.
"""
from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from ninja import Router, Schema
from ninja.errors import HttpError

from . import exports, paging, selectors, sharing
from .errors import as_uuid
from .models import Conversation

router = Router(tags=["conversations"])


class MessagePage(Schema):
    messages: list[dict[str, Any]]
    more: bool
    cursor: str | None


class ShareOut(Schema):
    enabled: bool  # sharing is allowed on this instance
    url: str | None  # the read-only link, or null when the conversation is not shared
    created_at: str | None


def _own(request: HttpRequest, conversation_id: UUID) -> Conversation:
    conversation = selectors.conversation_for(request.user, conversation_id)
    if conversation is None:
        raise HttpError(404, "Not found.")
    return conversation


@router.get("/conversations/export", url_name="export_all")
def export_all(request: HttpRequest, format: str = "json") -> StreamingHttpResponse:
    """Every conversation of the user, every message of each (all branches), as one JSON file."""
    if format != "json":
        raise HttpError(400, "Only format=json is offered for all conversations.")
    head = {"exported_at": timezone.now().isoformat(), "user": request.user.get_username(), "format": 1}
    items = (sharing.export_document(c) for c in selectors.conversations_of(request.user).iterator(chunk_size=200))
    response = StreamingHttpResponse(exports.stream_json_list(head, "conversations", items),
                                     content_type=exports.FORMATS["json"])
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="grokweb-conversations-{stamp}.json"'
    return response


@router.get("/conversations/{conversation_id}/messages", response=MessagePage)
def older_messages(request: HttpRequest, conversation_id: UUID, before: str = "", limit: int = 0) -> dict[str, Any]:
    """The page of the visible branch before message `before` (empty: the newest page)."""
    conversation = _own(request, conversation_id)
    key = as_uuid(before) if before else None
    if before and key is None:
        raise HttpError(400, "before is not a message id.")
    page = paging.branch_page(conversation, before=key, limit=min(max(limit, 0), 200) or paging.PAGE_MESSAGES,
                              staff=request.user.is_staff)
    return {"messages": page.messages, "more": page.more, "cursor": page.cursor}


@router.get("/conversations/{conversation_id}/export")
def export(request: HttpRequest, conversation_id: UUID, format: str = "md") -> HttpResponse:
    """A download: the visible branch as Markdown, or the whole tree as JSON."""
    if format not in exports.FORMATS:
        raise HttpError(400, "format must be md or json.")
    conversation = _own(request, conversation_id)
    if format == "md":
        body = exports.to_markdown(sharing.conversation_meta(conversation), sharing.branch_dicts(conversation))
    else:
        body = exports.to_json(sharing.export_document(conversation))
    response = HttpResponse(body, content_type=exports.FORMATS[format])
    name = exports.filename(conversation.title, str(conversation.id), format)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@router.get("/conversations/{conversation_id}/share", response=ShareOut)
def get_share(request: HttpRequest, conversation_id: UUID) -> dict[str, Any]:
    return sharing.share_state(_own(request, conversation_id))


@router.post("/conversations/{conversation_id}/share", response=ShareOut)
def create_share(request: HttpRequest, conversation_id: UUID) -> dict[str, Any]:
    """Share the branch as it is now (again: the same link shows the branch as it is now)."""
    conversation = _own(request, conversation_id)
    if not sharing.enabled():
        raise HttpError(403, "Sharing is turned off for this team.")
    sharing.share(conversation)
    return sharing.share_state(conversation)


@router.delete("/conversations/{conversation_id}/share", response={204: None})
def delete_share(request: HttpRequest, conversation_id: UUID) -> tuple[int, None]:
    sharing.unshare(_own(request, conversation_id))
    return 204, None
