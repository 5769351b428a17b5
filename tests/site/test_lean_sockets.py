"""An open socket keeps only what it still uses (grokweb.lean_sockets), and works as before.

Over a real daphne: sockets open, stream a reply to every tab of its user and to no one else,
answer pings long after their handshake was let go, close, and open again. Then the pieces:
daphne's input queue and autobahn's shared options behave as the originals.
"""
from __future__ import annotations

import asyncio
import json
import uuid
from collections import deque
from types import SimpleNamespace
from typing import Any

import pytest
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory
from django.test import Client
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from grokweb.lean_sockets import AppQueue, _NothingQueued, _share_defaults, lean_websockets, release_handshake
from grokweb.socket_routing import ProtocolRouter, SocketRouter
from tests.site.daphne import running_daphne

MODEL = "grok-4-1-fast-non-reasoning"


def _cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def _open(url: str, cookie: str) -> ClientConnection:
    return ws_connect(url.replace("http", "ws", 1) + "/ws/chat/", origin=url,  # type: ignore[arg-type]
                      additional_headers={"Cookie": f"sessionid={cookie}"}, open_timeout=30)


def _frame(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=30))


def _reply(ws: ClientConnection, message: str) -> tuple[str, str]:
    """Frames up to this reply's end on `ws`: (its text from the deltas, its final text)."""
    deltas = []
    while True:
        frame = _frame(ws)
        if frame["type"] == "message.delta" and frame["message"] == message:
            deltas.append(frame["content"])
        elif frame["type"] in ("message.done", "message.error") and frame.get("message") == message:
            assert frame["type"] == "message.done", frame
            return "".join(deltas), frame["content"]


@pytest.mark.django_db(transaction=True)
def test_sockets_stream_to_their_users_tabs_only_and_answer_pings_after_the_handshake_is_let_go(
        make_user, emulator_provider) -> None:
    alice, bob = _cookie(make_user("alice")), _cookie(make_user("bob"))
    with running_daphne() as url:
        with _open(url, alice) as tab, _open(url, alice) as other_tab, _open(url, bob) as bobs:
            for ws in (tab, other_tab, bobs):
                ws.send('{"type":"ping"}')
                assert _frame(ws) == {"type": "pong"}
            tab.send(json.dumps({"type": "send", "request_id": str(uuid.uuid4()), "conversation": None,
                                 "model": MODEL, "content": "Tell me something [[tokens=40]]"}))
            created = None
            while created is None:
                frame = _frame(tab)
                created = frame if frame["type"] == "message.created" else None
            message = created["assistant_message"]["id"]
            streamed, final = _reply(tab, message)
            assert streamed == final and len(final) > 100  # every delta, in order, adds up to the stored text
            # The other tab of the same user follows its conversations list; it subscribes and gets the text.
            other_tab.send(json.dumps({"type": "subscribe", "conversation": created["conversation"]}))
            frame = _frame(other_tab)
            while frame["type"] != "conversation.snapshot":
                frame = _frame(other_tab)
            assert json.dumps(final)[1:-1] in json.dumps(frame)
            bobs.send('{"type":"ping"}')
            assert _frame(bobs) == {"type": "pong"}  # nothing of alice's came before it
            tab.send(json.dumps({"type": "subscribe", "conversation": created["conversation"]}))
            assert _frame(tab)["type"] == "conversation.snapshot"
        with _open(url, alice) as again:  # closed and open again: the process is fine
            again.send('{"type":"ping"}')
            frame = _frame(again)
            while frame["type"] == "conversation.updated":  # the title, sent to the user's tabs when it is ready
                frame = _frame(again)
            assert frame == {"type": "pong"}


def test_the_input_queue_hands_messages_in_order_to_getters_in_turn() -> None:
    async def scenario() -> list[Any]:
        queue = AppQueue()
        queue.put_nowait(1)
        queue.put_nowait(2)
        got = [await queue.get(), await queue.get()]
        assert queue.empty() and queue.qsize() == 0
        first, second = asyncio.ensure_future(queue.get()), asyncio.ensure_future(queue.get())
        await asyncio.sleep(0)  # both wait now
        queue.put_nowait(3)
        queue.put_nowait(4)
        got += [await first, await second]
        return got

    assert asyncio.run(scenario()) == [1, 2, 3, 4]


def test_a_get_cancelled_after_it_was_woken_leaves_its_message_for_the_next() -> None:
    async def scenario() -> Any:
        queue = AppQueue()
        first, second = asyncio.ensure_future(queue.get()), asyncio.ensure_future(queue.get())
        await asyncio.sleep(0)
        queue.put_nowait("only")  # wakes `first` ...
        first.cancel()  # ... which is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await first
        return await asyncio.wait_for(second, 5)

    assert asyncio.run(scenario()) == "only"


def test_autobahn_options_read_as_the_factorys_and_a_later_change_reaches_only_new_connections() -> None:
    lean_websockets()
    factory = WebSocketFactory(object)
    factory.setProtocolOptions(autoPingTimeout=7, maxMessagePayloadSize=1234, allowNullOrigin=True)
    accept = factory.perMessageCompressionAccept
    early = factory.buildProtocol(None)
    assert (early.autoPingTimeout, early.maxMessagePayloadSize, early.allowNullOrigin) == (7, 1234, True)
    assert early.perMessageCompressionAccept is accept  # a function option stays the function, not a method
    assert not set(early.CONFIG_ATTRS) & set(vars(early))  # shared, not copied per connection
    factory.setProtocolOptions(autoPingTimeout=9)
    late = factory.buildProtocol(None)
    assert (early.autoPingTimeout, late.autoPingTimeout) == (7, 9)
    early.autoPingTimeout = 3  # a connection's own setting is still its own
    assert (early.autoPingTimeout, late.autoPingTimeout, factory.buildProtocol(None).autoPingTimeout) == (3, 9, 9)


def test_three_waiting_gets_are_served_in_the_order_they_began_and_a_cancelled_one_is_skipped() -> None:
    async def scenario() -> list[Any]:
        queue = AppQueue()
        gets = [asyncio.ensure_future(queue.get()) for _ in range(3)]
        await asyncio.sleep(0)
        gets[1].cancel()
        await asyncio.sleep(0)
        queue.put_nowait("a")
        queue.put_nowait("b")
        return [await gets[0], await gets[2], gets[1].cancelled()]

    assert asyncio.run(scenario()) == ["a", "b", True]


def test_autobahn_sends_queued_after_the_handshake_still_go_out_in_order() -> None:
    """daphne never queues a send (`sync`, `chopsize`); if anything ever does, the queue is a deque again."""
    lean_websockets()
    factory = WebSocketFactory(object)
    protocol = factory.buildProtocol(None)
    written: list[bytes] = []
    protocol.transport = type("T", (), {"write": lambda self, data: written.append(data)})()
    protocol.state, protocol.trafficStats = protocol.STATE_OPEN, type("S", (), {"outgoingOctetsWireLevel": 0})()
    protocol.send_queue = _NothingQueued(protocol)
    protocol.sendData(b"direct")
    protocol.triggered = True  # the reactor has not run the queue yet
    protocol.sendData(b"one", sync=True)
    protocol.sendData(b"two")  # behind the queued one, not before it
    assert written == [b"direct"] and list(protocol.send_queue) == [(b"one", True), (b"two", False)]


def test_autobahn_state_every_open_socket_shares_is_read_from_the_class_and_written_to_the_socket() -> None:
    lean_websockets()
    factory = WebSocketFactory(object)
    first, second = factory.buildProtocol(None), factory.buildProtocol(None)
    assert type(first) is type(second)
    for protocol, peer in ((first, "a"), (second, "b")):
        vars(protocol).update(closedByMe=False, remoteCloseCode=None, state=3, peer=peer,
                              handshake_deferred=None, application_queue=None, http_request_path="/ws/chat/",
                              websocket_extensions=[("permessage-deflate", {})], websocket_extensions_in_use=[])
        _share_defaults(protocol)
    assert (second.closedByMe, second.remoteCloseCode, second.state, second.peer) == (False, None, 3, "b")
    assert (second.http_request_path, second.websocket_extensions, second.websocket_extensions_in_use) == (
        "/ws/chat/", (), ())  # the handshake's offers are let go; what is in use stays empty
    assert not {"closedByMe", "remoteCloseCode", "state", "http_request_path", "websocket_extensions"} & set(
        vars(second))  # read from the class
    assert {"peer", "handshake_deferred", "application_queue"} <= set(vars(second))  # daphne dels / hasattrs these
    second.state = 4  # a socket that changes state holds its own again
    assert (first.state, second.state, factory.buildProtocol(None).state) == (3, 4, 3)
    del second.handshake_deferred  # as daphne does once the handshake is answered


class _Consumer:
    """A consumer class as `as_asgi` wraps one: what SocketRouter makes and calls."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        return self, scope


def _scope(path: str, origin: str = "http://testserver") -> dict[str, Any]:
    return {"type": "websocket", "path": path, "scheme": "ws",
            "headers": [(b"host", b"testserver"), (b"origin", origin.encode())]}


@pytest.mark.django_db
def test_the_socket_router_routes_in_place_and_refuses_a_foreign_origin_or_path(settings) -> None:
    from channels.consumer import AsyncConsumer
    from django.urls import path

    settings.ALLOWED_HOSTS = ["testserver"]
    router = ProtocolRouter({"websocket": SocketRouter([path("ws/chat/", AsyncConsumer.as_asgi())])})
    router.apps["websocket"].routes[0].callback.consumer_class = _Consumer  # type: ignore[attr-defined]
    scope = _scope("/ws/chat/")
    consumer, seen = asyncio.run(router(scope, None, None))  # type: ignore[misc]
    assert isinstance(consumer, _Consumer) and seen is scope  # the scope itself, not a copy
    assert scope["path_remaining"] == "" and scope["url_route"] == {"args": (), "kwargs": {}}
    with pytest.raises(ValueError, match="No application"):
        asyncio.run(router({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    incoming = [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1006}]

    async def receive() -> Any:
        return incoming.pop(0)

    asyncio.run(router(_scope("/ws/chat/", "http://testserver:9999"), receive, send))  # type: ignore[arg-type]
    assert [message["type"] for message in sent] == ["websocket.close"]  # daphne answers the handshake 403
    sent.clear()
    incoming[:] = [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1006}]
    asyncio.run(router(_scope("/ws/other/"), receive, send))  # type: ignore[arg-type]
    assert [message["type"] for message in sent] == ["websocket.close"]  # a path not ours: refused alike


class _HTTPRequest:
    """What daphne's connections and Twisted's channel hold of an HTTP request; an upgraded one's transport is None."""

    transport = None


def test_the_upgraded_http_request_leaves_daphnes_connections_when_the_socket_opens() -> None:
    """daphne's checker would delete it within a second; until then it held the request's headers and buffers."""
    lean_websockets()
    server = Server(application=None, endpoints=["tcp:port=0:interface=127.0.0.1"])  # not started
    server.connections = {}  # as Server.run sets it
    factory = WebSocketFactory(server)
    protocol = factory.buildProtocol(None)
    upgraded, other = _HTTPRequest(), _HTTPRequest()
    for request in (upgraded, other):
        server.protocol_connected(request)
    server.protocol_disconnected(upgraded)  # as daphne marks it at the upgrade
    channel = SimpleNamespace(requests=[upgraded])
    vars(protocol).update(request=SimpleNamespace(path="/ws/chat/", peer="tcp4:127.0.0.1:1"),
                          transport=SimpleNamespace(producer=channel), server=server, send_queue=deque(),
                          http_request_data=b"GET", http_response_data=b"101", http_headers={}, clean_headers=[])
    release_handshake(protocol)
    assert channel.requests == [] and list(server.connections) == [other]  # a live one stays
    assert (protocol.request.path, protocol.request.peer) == ("/ws/chat/", "tcp4:127.0.0.1:1")
