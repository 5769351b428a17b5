"""Who is on a websocket: the session cookie's user, resolved in one database hop.

Channels' AuthMiddlewareStack makes two hops to the one database thread per handshake
(one only to build the session object, one to read the session and the user), and
every hop of every socket queues behind the others: a burst of reconnecting tabs waited
on them. This does the same reads (the session row, the user row) in one hop, on the
executor's threads rather than the one database thread (reads of a row each: handshakes
need not wait for each other: bench/connect_burst.py), and none without a session cookie.
It sets scope["cookies"], scope["session"] and scope["user"] as AuthMiddlewareStack does;
the user is Django's `get_user` (a session whose password hash no longer matches is
flushed and the socket is anonymous, as on the pages).
"""
from __future__ import annotations

from importlib import import_module
from types import SimpleNamespace
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie


def _cookies(scope: dict[str, Any]) -> dict[str, str]:
    headers = [value.decode("latin1") for name, value in scope.get("headers", ()) if name == b"cookie"]
    return parse_cookie("; ".join(headers)) if headers else {}


def _resolve(session_key: str | None) -> tuple[Any, Any]:
    """Sync: the session and its user (reads django_session and the user's row, nothing else)."""
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return session, auth.get_user(SimpleNamespace(session=session))  # type: ignore[arg-type]


class SessionUserMiddleware:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        cookies = _cookies(scope)
        key = cookies.get(settings.SESSION_COOKIE_NAME)
        if key:
            session, user = await database_sync_to_async(_resolve, thread_sensitive=False)(key)
        else:  # no cookie: nobody, and no reason to queue for the database thread
            session, user = import_module(settings.SESSION_ENGINE).SessionStore(None), AnonymousUser()
        return await self.inner({**scope, "cookies": cookies, "session": session, "user": user}, receive, send)
