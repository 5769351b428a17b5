"""A delta written straight to daphne's websocket is byte for byte what autobahn would send, or not written at all."""
from __future__ import annotations

import functools
from typing import Any

import pytest
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory
from twisted.internet.testing import StringTransport

from chat.socket_write import text_writer


def _open_socket() -> tuple[Any, Any, StringTransport]:
    """daphne's own websocket protocol on an in-memory transport, open, and its ASGI `send`."""
    server = Server(application=None, endpoints=["tcp:port=0:interface=127.0.0.1"])
    server.connections = {}
    protocol = WebSocketFactory(server).buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.state = protocol.STATE_OPEN
    server.connections[protocol] = {}
    transport.clear()
    return functools.partial(server.handle_reply, protocol), protocol, transport


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536, 70000])
def test_a_frame_is_the_bytes_autobahn_sends(size: int) -> None:
    send, protocol, transport = _open_socket()
    write = text_writer(send)
    assert write is not None
    data = ("é" * size).encode()[:size]  # framing counts bytes, not characters
    protocol.sendMessage(data)
    theirs = transport.value()
    transport.clear()
    stats = protocol.trafficStats
    counted = (stats.outgoingWebSocketMessages, stats.outgoingOctetsWireLevel)
    assert write(data) is True
    assert transport.value() == theirs
    assert (stats.outgoingWebSocketMessages, stats.outgoingOctetsWireLevel) == (
        counted[0] + 1, counted[1] + len(theirs))


def test_nothing_is_written_when_autobahn_would_not_send_it_as_one_plain_frame() -> None:
    send, protocol, transport = _open_socket()
    write = text_writer(send)
    assert write is not None
    protocol.send_queue.append((b"queued", False))  # autobahn is sending something else first
    assert write(b"{}") is False
    protocol.send_queue.clear()
    protocol._perMessageCompress = object()  # per-message compression negotiated
    assert write(b"{}") is False
    protocol._perMessageCompress = None
    protocol.autoFragmentSize = 4
    assert write(b'{"a":1}') is False
    protocol.autoFragmentSize = 0
    protocol.state = protocol.STATE_CLOSING
    assert write(b"{}") is False
    protocol.state = protocol.STATE_OPEN
    send.func.__self__.connections[protocol]["disconnected"] = 1.0  # daphne saw it go
    assert write(b"{}") is False
    assert transport.value() == b""


def test_another_server_gets_no_writer() -> None:
    async def send(message: dict[str, Any]) -> None:  # the test communicator's, uvicorn's: not daphne's
        return None

    assert text_writer(send) is None
    assert text_writer(functools.partial(send)) is None
