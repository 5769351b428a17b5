"""The chat socket's user, read once from the session cookie when the socket connects.

Channels' AuthMiddlewareStack (cookie, session and auth middleware) keeps, for the whole life of
every socket, the parsed cookies, a session store with its data, lazy wrappers of both, a copy of
the scope per layer, and a wrapper around every frame sent (to save a session a socket never
changes). A socket needs only its user: this reads the session once, checks it as Django does
(channels.auth.get_user: the backend, and the session's auth hash against the password's), and
passes on one copy of the scope with the user in it and no session.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

from channels.auth import get_user
from django.conf import settings
from django.http.cookie import parse_cookie


class SocketAuthMiddleware:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        user = await get_user({"session": _session(scope)})
        return await self.inner({**scope, "user": user}, receive, send)


def _session(scope: dict[str, Any]) -> Any:
    """The session the cookie names (an empty one without a cookie): loaded only when read."""
    key = None
    for name, value in scope.get("headers") or ():
        if name == b"cookie":
            key = parse_cookie(value.decode("latin1")).get(settings.SESSION_COOKIE_NAME)
            break
    return import_module(settings.SESSION_ENGINE).SessionStore(key)
