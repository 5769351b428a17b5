"""The chat socket's user, read once from the session cookie when the socket connects.

Channels' AuthMiddlewareStack (cookie, session and auth middleware) keeps, for the whole life of
every socket, the parsed cookies, a session store with its data, lazy wrappers of both, a copy of
the scope per layer, and a wrapper around every frame sent (to save a session a socket never
changes). A socket needs only its user: this reads the session once, checks it as Django does
(django.contrib.auth.get_user: the backend, and the session's auth hash against the password's),
and puts the user in the scope (in place) with no session. `authenticate` runs inside the chat
consumer (grokweb.socket_routing has no middleware: no coroutine of its own per socket).

Nor the request's headers: read here (the cookie) and by the origin check before (grokweb.origin),
they have no reader once the socket is open, and they were about 1.3 KiB of every open socket for
as long as it stayed open. The scope handed in loses them too, as the app above it (daphne's, and
Channels' router, suspended in the call) keeps it alive and never reads it again.

The read is the handshake's only database work (the session row, the user row), in one hop,
on threads of its own rather than the one database thread every `database_sync_to_async` call
queues on: in a burst of reconnecting tabs the handshakes do not wait behind chat work there
(bench/connect_burst.py, docs/benchmarks.md). Without a session cookie there is nobody to read
and no hop at all.

Its own thread (READER_THREADS), not the event loop's default executor: that one grows to
cpu_count + 4 threads under a burst of handshakes, each thread keeping a glibc arena, a stack and a
database connection for the rest of the process's life (about 0.3 MiB each on SQLite, paid at a
fresh process's first burst: docs/benchmarks.md, "what a fresh process's first burst paid"),
while two short reads per handshake, mostly holding the GIL, gain nothing from more threads.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from importlib import import_module
from types import SimpleNamespace
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie

READER_THREADS = 1  # bench/connect_burst.py: 1,000 handshakes as fast on 1 as on 2, faster than on 6


async def authenticate(scope: dict[str, Any]) -> None:
    """Put the socket's user in `scope` (in place: a copy would be one more dict for the socket's life)."""
    key = _session_key(scope)
    scope["headers"] = ()  # read: see the module's docstring
    scope["user"] = await _read_user(key) if key else AnonymousUser()


def _session_key(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers") or ():
        if name == b"cookie":
            return parse_cookie(value.decode("latin1")).get(settings.SESSION_COOKIE_NAME)
    return None


def user_of(session_key: str) -> Any:
    """Sync: the user of this session (its row and the user's row: two reads), or AnonymousUser."""
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return auth.get_user(SimpleNamespace(session=session))  # type: ignore[arg-type]


_readers = ThreadPoolExecutor(max_workers=READER_THREADS, thread_name_prefix="socket-auth")
_read_user = database_sync_to_async(user_of, thread_sensitive=False, executor=_readers)
