"""What daphne and autobahn keep per open websocket, cut to what an open socket still uses.

An idle signed-in socket cost about 33 KiB of daphne's memory (bench/socket_memory.py breaks it
down). Much of that was not ours and was never used again once the socket was open:

- daphne gives every connection an `asyncio.Queue` for the app's `receive`: four deques (an
  empty deque holds a 64-slot block, about 600 bytes) and an Event. `AppQueue` is the same
  queue, allocating its deque only while messages wait, and holding one waiter without one.
- autobahn copies 29 options from its factory onto every protocol instance (so that a later
  change to the factory does not reach open connections). With those and its ~80 state
  attributes, each instance carried a 108-entry `__dict__` of 3.3 KiB. Here the options are
  class attributes of a subclass made per set of option values: the same values, read as
  fast, a later change still reaching only new connections, and the dict drops to 79 entries.
- The opening handshake's leftovers: autobahn's raw request and response bytes, its parsed
  header dict and query parameters, daphne's copy of the request, and Twisted's HTTP request
  object (its headers, its body buffer) that the upgrade left in the HTTP channel's queue and,
  until its checker's next tick, in daphne's connections. They are dropped once the socket is
  open; daphne's log lines keep the path they use.
- autobahn's send queue, a deque that daphne's sends never use (`_NothingQueued`).

Each is a small adaptation of pinned versions (daphne 4.2.3, autobahn 26.7.1, Twisted 26.10);
`lean_websockets` checks the pieces it relies on and leaves daphne as it is if they differ.
tests/site/test_lean_sockets.py runs a real daphne with them.
"""
from __future__ import annotations

import asyncio
from collections import deque
from functools import partial
from types import MappingProxyType
from typing import Any

_ORIGINAL: dict[str, Any] = {}  # what lean_websockets replaced, by name
_EMPTY: MappingProxyType[str, Any] = MappingProxyType({})
_ASGI = {"version": "3.0"}  # every scope's "asgi", one dict rather than one per socket (read, never written)


class AppQueue:
    """`asyncio.Queue` as daphne uses it (`put_nowait`, `get`), allocating only while in use.

    The same semantics: unbounded, first in first out, any number of concurrent `get`s served in
    the order they began, and a `get` cancelled after it was woken leaves its message for the next.
    An idle socket's app waits in one `get`: that waiter is held alone, a deque only for more.
    """

    __slots__ = ("_getters", "_items")

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._getters: asyncio.Future[None] | deque[asyncio.Future[None]] | None = None

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        self._wake_next()

    def get_nowait(self) -> Any:
        if not self._items:
            raise asyncio.QueueEmpty
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item

    async def get(self) -> Any:
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            self._add_getter(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()  # in case it was not woken yet
                self._drop_getter(getter)
                if self._items and not getter.cancelled():
                    self._wake_next()  # it was woken and will not take the message: the next one may
                raise
        return self.get_nowait()

    def _add_getter(self, getter: asyncio.Future[None]) -> None:
        if self._getters is None:
            self._getters = getter
        elif isinstance(self._getters, deque):
            self._getters.append(getter)
        else:
            self._getters = deque((self._getters, getter))

    def _drop_getter(self, getter: asyncio.Future[None]) -> None:
        if self._getters is getter:
            self._getters = None
        elif isinstance(self._getters, deque):
            if getter in self._getters:
                self._getters.remove(getter)
            if not self._getters:
                self._getters = None

    def _wake_next(self) -> None:
        while self._getters is not None:
            if isinstance(self._getters, deque):
                getter = self._getters.popleft()
                if not self._getters:
                    self._getters = None
            else:
                getter, self._getters = self._getters, None
            if not getter.done():
                getter.set_result(None)
                return


def _create_application(server: Any, protocol: Any, scope: dict[str, Any]) -> AppQueue | None:
    """daphne.server.Server.create_application (4.2.3), with an `AppQueue` for the app's input and one
    shared `asgi` entry."""
    assert "application_instance" not in server.connections[protocol]
    input_queue = AppQueue()
    scope.setdefault("asgi", _ASGI)
    application_instance = server.application(scope=scope, receive=input_queue.get,
                                              send=partial(server.handle_reply, protocol))
    if protocol not in server.connections:
        return None
    server.connections[protocol]["application_instance"] = asyncio.ensure_future(
        application_instance, loop=asyncio.get_event_loop())
    return input_queue


def _build_protocol(factory: Any, addr: Any) -> Any:
    """daphne's WebSocketFactory.buildProtocol, its protocol class carrying the factory's current options."""
    names = factory.protocol.CONFIG_ATTRS
    values = tuple(getattr(factory, name) for name in names)
    shared = factory.__dict__.get("_lean_protocol")
    if shared is None or shared[0] != values:
        base = factory.__dict__.get("_lean_base") or factory.protocol
        factory._lean_base = base
        # A function as a class attribute would read as a bound method: keep it as it is (staticmethod).
        options = {name: staticmethod(value) if hasattr(type(value), "__get__") else value
                   for name, value in zip(names, values, strict=True)}
        factory.protocol = type(base.__name__, (base,), {"__module__": base.__module__, "_lean_options": True,
                                                         **options})
        factory._lean_protocol = (values, factory.protocol)
    return _ORIGINAL["buildProtocol"](factory, addr)


class _NothingQueued:
    """autobahn's `send_queue` (a deque) while nothing is queued: empty, and a deque again at the first append.

    autobahn queues only `sync` or chopped sends, which daphne never makes: every frame is written
    at once, and the queue, with its 64-slot block, stayed empty for the socket's whole life.
    """

    __slots__ = ("_protocol",)

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol

    def __len__(self) -> int:
        return 0

    def append(self, item: Any) -> None:
        self._protocol.send_queue = deque((item,))

    def popleft(self) -> Any:
        raise IndexError("pop from an empty deque")


class _Request:
    """What daphne's log lines read of autobahn's ConnectionRequest once the socket is open."""

    __slots__ = ("path", "peer")

    def __init__(self, path: str, peer: str) -> None:
        self.path, self.peer = path, peer


def _open(protocol: Any) -> None:
    """daphne's WebSocketProtocol.onOpen, then the opening handshake's leftovers go."""
    _ORIGINAL["onOpen"](protocol)
    release_handshake(protocol)


def release_handshake(protocol: Any) -> None:
    request = protocol.request
    protocol.request = _Request(request.path, request.peer)
    protocol.http_request_data = protocol.http_response_data = b""
    protocol.http_headers = protocol.http_request_params = _EMPTY
    protocol.clean_headers = ()  # the app's scope keeps its own reference while it needs it
    if type(protocol.send_queue) is deque and not protocol.send_queue:
        protocol.send_queue = _NothingQueued(protocol)
    _share_defaults(protocol)
    channel = getattr(protocol.transport, "producer", None)
    requests = getattr(channel, "requests", None)
    if type(requests) is list and requests and getattr(requests[0], "transport", "") is None:
        # Twisted's HTTP channel stays the transport's producer (it pauses reading while writes
        # back up); the upgraded request in its queue (transport handed over: None) is done with.
        upgraded = requests[0]
        requests.clear()
        _forget_upgraded(protocol, upgraded)


def _forget_upgraded(protocol: Any, request: Any) -> None:
    """Take the upgraded HTTP request out of daphne's connections now, not at its checker's next tick.

    daphne marks the request disconnected at the upgrade and its `application_checker`, once a
    second, deletes it (it never has an application). Until then the request, its two header
    sets, addresses and content buffer (about 3.5 KiB) stay alive: in a burst of connects, every
    socket opened in the last second carries one. Deleted here under the checker's own condition.
    """
    connections = getattr(getattr(protocol, "server", None), "connections", None)
    if type(connections) is not dict:
        return
    details = connections.get(request)
    if details is not None and "disconnected" in details and "application_instance" not in details:
        del connections[request]


_SCALARS = (type(None), bool, int, float, str, bytes)  # immutable: one value can stand for every socket's
_KEEP = frozenset(("handshake_deferred", "application_queue"))  # daphne `del`s or `hasattr`s them
# What autobahn reads only while it answers the opening handshake (processHandshake, succeedHandshake):
# the client's offered extensions (a list of tuples of dicts of lists), subprotocols and key.
_HANDSHAKE_ONLY = (("websocket_extensions", ()), ("websocket_protocols", ()), ("_wskey", ""))


def _shareable(value: Any) -> bool:
    """An immutable value: a scalar, the empty mapping or the empty tuple."""
    return type(value) in _SCALARS or value is _EMPTY or (type(value) is tuple and not value)


def _share_defaults(protocol: Any) -> None:
    """Let the protocol class hold the state attributes that still have the value every open socket has.

    autobahn sets about 80 state attributes on each connection, most of them None, False or 0 for
    as long as the socket stays open and quiet, and the handshake's strings (path, host, origin,
    status line) are the same on most. The first socket's immutable values become class attributes
    of its per-options class (`_build_protocol`'s, ours alone), and each socket's `__dict__` is
    rebuilt without the ones equal to them: reads find the same value on the class, and the first
    write puts it back in the instance. Only immutable values (`_shareable`) of names the class
    does not define otherwise. The handshake-only attributes are emptied first, so they share too.
    Fewer than 43 entries left, even after the first frames put back what autobahn writes per
    frame, the dict's table is 64 slots (about 0.8 KiB) rather than 128 (1.5 KiB).
    """
    cls = type(protocol)
    if not cls.__dict__.get("_lean_options"):
        return
    attrs = protocol.__dict__
    for name, empty in _HANDSHAKE_ONLY:
        if name in attrs:
            attrs[name] = empty
    if attrs.get("websocket_extensions_in_use") == []:  # appended to only while the handshake is answered
        attrs["websocket_extensions_in_use"] = ()
    shared = cls.__dict__.get("_lean_shared")
    if shared is None:
        shared = {name: value for name, value in attrs.items()
                  if _shareable(value) and name not in _KEEP and not hasattr(cls, name)}
        for name, value in shared.items():
            setattr(cls, name, value)
        cls._lean_shared = shared
    own = {name: value for name, value in attrs.items()
           if name not in shared or type(value) is not type(shared[name]) or value != shared[name]}
    if len(own) < len(attrs):
        protocol.__dict__ = own  # a dict sized for what is left


def lean_websockets() -> None:
    """Apply the adaptations above to daphne, if it is daphne 4.2.3 serving. Idempotent."""
    try:
        import daphne
        from autobahn.websocket.protocol import WebSocketServerProtocol
        from daphne import server, ws_protocol
    except ImportError:  # served by something else
        return
    if _ORIGINAL or daphne.__version__ != "4.2.3" or not hasattr(WebSocketServerProtocol, "CONFIG_ATTRS"):
        return
    _ORIGINAL["create_application"] = server.Server.create_application
    _ORIGINAL["buildProtocol"] = ws_protocol.WebSocketFactory.buildProtocol
    _ORIGINAL["onOpen"] = ws_protocol.WebSocketProtocol.onOpen
    server.Server.create_application = _create_application  # type: ignore[method-assign]
    ws_protocol.WebSocketFactory.buildProtocol = _build_protocol  # type: ignore[method-assign]
    ws_protocol.WebSocketProtocol.onOpen = _open  # type: ignore[method-assign]
