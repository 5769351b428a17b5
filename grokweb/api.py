"""The project's JSON API (PROTOCOL.md, HTTP): each app's router under /api/, OpenAPI at /api/openapi.json.

Session-authenticated, CSRF-checked writes. A ChatError from any layer answers with its
PROTOCOL.md code, as on the websocket: `{detail, code, ...extra}`.
"""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.security import django_auth

from accounts.api import router as accounts_router
from chat.api import router as chat_router
from gateways.wire.codes import ChatError
from usage.api import router as usage_router

api = NinjaAPI(title="Grokweb API", version="1", auth=django_auth, docs_url=None, urls_namespace="api")
api.add_router("/", chat_router)
api.add_router("/usage/", usage_router)
api.add_router("/", accounts_router)

ERROR_STATUS = {"not_found": 404, "rate_limited": 429}


@api.exception_handler(ChatError)
def chat_error(request: HttpRequest, exc: ChatError) -> Any:
    return api.create_response(request, {"detail": exc.detail, "code": exc.code, **exc.extra},
                               status=ERROR_STATUS.get(exc.code, 400))
