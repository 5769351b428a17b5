"""Server-rendered pages: the chat shell; the rest happens over the websocket."""
from __future__ import annotations

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def index(request: HttpRequest, conversation_id: UUID | None = None) -> HttpResponse:
    return render(request, "chat/index.html", {"conversation_id": conversation_id or ""})
