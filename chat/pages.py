"""Server-rendered pages: the chat shell; the rest happens over the websocket."""
from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from accounts.gate import reserve_output_tokens

from .paging import opening


@never_cache  # it carries the user's conversation: never kept by a cache on the way
@login_required
def index(request: HttpRequest, conversation_id: UUID | None = None) -> HttpResponse:
    """The chat page; a conversation's latest page comes in the HTML, so it paints before the websocket answers."""
    return render(request, "chat/index.html", {
        "conversation_id": conversation_id or "",
        "opening": opening(request.user, conversation_id) if conversation_id else None,
        "attachment_max_bytes": settings.ATTACHMENT_MAX_BYTES,
        "reserve_output_tokens": reserve_output_tokens(),
    })


def shared(request: HttpRequest, token: str) -> HttpResponse:
    """A read-only share link (chat.sharing): anyone with the link, signed in or not."""
    from django.http import Http404

    from .sharing import shared_branch

    found = shared_branch(token)
    if found is None:
        raise Http404("No such link.")
    conversation, messages = found
    response = render(request, "chat/share.html", {
        "title": conversation.title or "New chat",
        "shared_at": conversation.share.updated_at,
        "messages": messages,
    })
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"  # the link is the key: never leak it to sites it links to
    return response
