"""The ASGI routing of grokweb.asgi with no coroutine of its own left suspended under an open socket.

Channels' ProtocolTypeRouter and URLRouter, `as_asgi`'s app and an auth middleware each await the
app they call: every open socket kept a chain of suspended coroutines, each frame holding its
locals, and the routers' and the middleware's copies of the scope (about 2 KiB a socket, for the
socket's whole life: bench/socket_memory.py). Here routing is synchronous and returns the app's
coroutine instead: under an open chat socket there is the consumer's own coroutine (which reads
the user itself: accounts.socket_auth.authenticate) and its `receive`, nothing else.

The same behaviour as the Channels chain it replaces: an unknown scope type fails the app
(daphne closes the connection), a refused Origin answers the handshake with 403
(grokweb.origin), and the consumer gets the scope with `path_remaining` and `url_route` as
URLRouter would set them. One difference: a path no route matches is refused with 403 too,
where URLRouter raised (a 500 and a logged traceback for each stray handshake).
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from asgiref.sync import markcoroutinefunction
from channels.security.websocket import WebsocketDenier

from .origin import origin_refused

App = Callable[[Any, Any, Any], Awaitable[Any]]
_NO_ARGS: Mapping[str, Any] = MappingProxyType({"args": (), "kwargs": MappingProxyType({})})


async def _fail(error: Exception) -> None:
    raise error


class ProtocolRouter:
    """channels.routing.ProtocolTypeRouter, returning the app's coroutine rather than awaiting it."""

    _asgi_single_callable = True  # asgiref: an ASGI 3 app, though __call__ is not `async def`

    def __init__(self, apps: Mapping[str, App]) -> None:
        self.apps = apps

    def __call__(self, scope: Any, receive: Any, send: Any) -> Awaitable[Any]:
        app = self.apps.get(scope["type"])
        if app is None:
            return _fail(ValueError(f"No application configured for scope type {scope['type']!r}"))
        return app(scope, receive, send)

    # A server that tells ASGI 3 from ASGI 2 by `iscoroutinefunction` (uvicorn) must see ASGI 3: it returns one.
    __call__ = markcoroutinefunction(__call__)  # type: ignore[method-assign]


class SocketRouter:
    """The websocket: the Origin check, then channels.routing.URLRouter over `routes`, in place.

    The scope is changed in place (daphne's own, which nothing else reads once the app has it),
    and a route without arguments shares one read-only `url_route`.
    """

    _asgi_single_callable = True

    def __init__(self, routes: Sequence[Any]) -> None:
        self.routes = routes

    def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[Any]:
        if origin_refused(scope):
            return WebsocketDenier()(scope, receive, send)  # type: ignore[no-any-return]
        path = scope.get("path")
        if path is None:
            return _fail(ValueError("No 'path' key in connection scope, cannot route URLs"))
        root_path = scope.get("root_path", "")
        if root_path and not path.startswith(root_path):
            return _fail(ValueError(f"No route found for path {path!r}."))
        path = path[len(root_path):].lstrip("/")
        for route in self.routes:
            match = route.pattern.match(path)
            if match:
                remaining, args, kwargs = match
                kwargs = {**kwargs, **route.default_args}
                scope["path_remaining"] = remaining
                scope["url_route"] = {"args": args, "kwargs": kwargs} if args or kwargs else _NO_ARGS
                consumer = getattr(route.callback, "consumer_class", None)
                if consumer is not None:  # as_asgi's app, without its coroutine
                    return consumer(**route.callback.consumer_initkwargs)(scope, receive, send)  # type: ignore[no-any-return]
                return route.callback(scope, receive, send)  # type: ignore[no-any-return]
        # A path not ours (`/ws/chat` without its slash, say) is refused as a foreign Origin is (daphne: 403),
        # not failed: Channels' URLRouter raised, a 500 with a traceback logged for every stray try.
        return WebsocketDenier()(scope, receive, send)  # type: ignore[no-any-return]

    __call__ = markcoroutinefunction(__call__)  # type: ignore[method-assign]
