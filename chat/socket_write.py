"""A text frame written straight to the websocket under daphne, for the frames a reply streams.

Every delta frame went from the consumer through Channels' `send` (a message dict), daphne's
`handle_reply` (a check that it is not an HTTP response, a debug log, a str -> bytes encode) and
autobahn's `sendMessage` (type asserts, compression and fragmentation checks, a header built
from bit operations and the qualified name of a method computed for a debug log line that is
off): at a gateway's pace, about a fifth of the relay's CPU per frame interval. Here a frame that
is already UTF-8 JSON becomes one RFC 6455 text frame (FIN, opcode 1, unmasked: a server's) and
goes to the connection's transport, exactly the bytes autobahn would have written.

Only when it is sure to be the same: the ASGI `send` is daphne's (`partial(Server.handle_reply,
protocol)`), the connection is open and daphne has not seen it go, autobahn sends nothing else at
that moment (no queued data, not inside a fragmented message), no per-message compression, no
auto-fragmenting or payload limit in the way, no frame or octet logging, no timing tracking.
Anything else, or another server (the in-process test communicator, uvicorn), returns False, and
the frame goes the usual way. Reached through attributes of daphne 4 / autobahn 24-26 (pinned).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

Writer = Callable[[bytes], bool]

_PROTOCOL_ATTRIBUTES = ("state", "STATE_OPEN", "send_state", "SEND_STATE_GROUND", "send_queue",
                        "_perMessageCompress", "autoFragmentSize", "maxMessagePayloadSize", "maskServerFrames",
                        "logFrames", "logOctets", "trackedTimings", "trafficStats", "transport", "factory")


def text_writer(send: Any) -> Writer | None:
    """`write(data) -> bool` for the socket behind daphne's ASGI `send`, or None when it is not daphne's.

    `write` sends `data` (UTF-8 JSON) as one text frame and returns True, or returns False having
    sent nothing: the caller then sends it through `send` as always.
    """
    if not isinstance(send, functools.partial) or len(send.args) != 1 or send.keywords:
        return None
    handle_reply = send.func
    server = getattr(handle_reply, "__self__", None)
    connections = getattr(server, "connections", None)
    if getattr(handle_reply, "__name__", "") != "handle_reply" or not isinstance(connections, dict):
        return None
    protocol = send.args[0]
    if not all(hasattr(protocol, name) for name in _PROTOCOL_ATTRIBUTES):
        return None
    if not getattr(protocol.factory, "isServer", False):
        return None
    open_, ground = protocol.STATE_OPEN, protocol.SEND_STATE_GROUND

    def write(data: bytes) -> bool:
        size = len(data)
        details = connections.get(protocol)
        if (details is None or details.get("disconnected") or protocol.state != open_
                or protocol.send_state != ground or protocol.send_queue or protocol._perMessageCompress is not None
                or 0 < protocol.autoFragmentSize < size or 0 < protocol.maxMessagePayloadSize < size
                or protocol.maskServerFrames or protocol.logFrames or protocol.logOctets
                or protocol.trackedTimings):
            return False
        if size <= 125:
            frame = bytes((0x81, size)) + data
        elif size <= 0xFFFF:
            frame = b"\x81\x7e" + size.to_bytes(2, "big") + data
        else:
            frame = b"\x81\x7f" + size.to_bytes(8, "big") + data
        protocol.transport.write(frame)
        stats = protocol.trafficStats  # as autobahn counts a message it sends
        stats.outgoingWebSocketMessages += 1
        stats.outgoingWebSocketFrames += 1
        stats.outgoingOctetsAppLevel += size
        stats.outgoingOctetsWebSocketLevel += size
        stats.outgoingOctetsWireLevel += len(frame)
        return True

    return write
