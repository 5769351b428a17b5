"""The websocket's edges over a real daphne, with the direct frame writes (chat.socket_write) in play.

What a browser does that the in-process communicator never shows: offering per-message compression
(Chromium always does: negotiated, the direct writes would have to compress; daphne does not accept
it, so every frame, direct or not, is plain), control frames, fragmented and binary client messages,
frames over the server's limits, and long replies whose deltas need the extended length encodings.
"""
from __future__ import annotations

import base64
import json
import os
import socket
import threading
import uuid
from contextlib import suppress
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from chat.models import Message
from tests.site.daphne import running_daphne
from tests.site.test_lean_sockets import MODEL, _cookie, _frame, _open, _reply

pytestmark = pytest.mark.django_db(transaction=True)
CHROMIUM_OFFER = "permessage-deflate; client_max_window_bits"
DAPHNE_MAX_MESSAGE = 1024 * 1024  # daphne's --websocket_max_message_size default


def _handshake_answer(url: str, cookie: str) -> bytes:
    """The raw answer to an upgrade offering what Chromium offers."""
    host, port = url.removeprefix("http://").split(":")
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /ws/chat/ HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {url}\r\n"
               f"Sec-WebSocket-Extensions: {CHROMIUM_OFFER}\r\nCookie: sessionid={cookie}\r\n\r\n")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request.encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(4096)
            assert data, answer
            answer += data
    return answer.split(b"\r\n\r\n", 1)[0]


def _start_reply(ws: ClientConnection, content: str) -> str:
    ws.send(json.dumps({"type": "send", "request_id": str(uuid.uuid4()), "conversation": None,
                        "model": MODEL, "content": content}))
    while True:
        frame = _frame(ws)
        if frame["type"] == "message.created":
            return str(frame["assistant_message"]["id"])


def _error_frame(ws: ClientConnection) -> dict[str, Any]:
    while True:
        frame = _frame(ws)
        if frame["type"] == "error":
            return frame


def test_compression_is_not_negotiated_and_a_long_reply_arrives_whole_in_plain_frames(make_user,
                                                                                     emulator_provider) -> None:
    """Per-message compression offered (as by Chromium and by the websockets client) is declined, so the frames
    written straight to the socket (uncompressed, RSV1 clear) are what was agreed; a long reply's deltas, some
    of them past 125 bytes (16-bit length) or longer, add up to its stored text."""
    cookie = _cookie(make_user("alice"))
    with running_daphne() as url:
        head = _handshake_answer(url, cookie)
        assert head.startswith(b"HTTP/1.1 101") and b"sec-websocket-extensions" not in head.lower()
        with _open(url, cookie) as ws:  # websockets offers permessage-deflate too
            assert ws.protocol.extensions == []
            message = _start_reply(ws, "Write at length [[tokens=6000]]")
            streamed, final = _reply(ws, message)
            assert streamed == final and len(final.encode()) > 30000
            ws.send('{"type":"ping"}')
            assert _frame(ws) == {"type": "pong"}


def test_control_fragmented_and_binary_frames_from_a_client(make_user, emulator_provider) -> None:
    cookie = _cookie(make_user("alice"))
    with running_daphne() as url, _open(url, cookie) as ws:
        ws.ping(b"are you there").wait(30)  # a websocket ping is answered with a pong by the server
        ws.send(iter(['{"type":', '"pi', 'ng"}']))  # one text message in three frames
        assert _frame(ws) == {"type": "pong"}
        ws.send(b'{"type":"ping"}')  # a binary message is read as UTF-8 JSON
        assert _frame(ws) == {"type": "pong"}
        ws.send(b"\xff\xfe not utf-8")
        assert _error_frame(ws)["code"] == "bad_request"
        ws.send('{"type":"ping"}')
        assert _frame(ws) == {"type": "pong"}  # still open


def test_a_frame_over_max_frame_bytes_is_refused_and_one_over_daphnes_limit_closes_with_1009(
        make_user, emulator_provider, settings) -> None:
    """docs/protocol.md: over MAX_FRAME_BYTES (256 KiB) an `error` frame (`too_large`) and the socket stays open;
    over daphne's own limit (1 MiB) daphne reads no further and closes the socket with 1009 (message too big)."""
    cookie = _cookie(make_user("alice"))
    limit = settings.GROKWEB["MAX_FRAME_BYTES"]
    with running_daphne() as url, _open(url, cookie) as ws:
        ws.send(json.dumps({"type": "ping", "pad": "x" * (limit + 10)}))
        assert _error_frame(ws)["code"] == "too_large"
        ws.send('{"type":"ping"}')
        assert _frame(ws) == {"type": "pong"}
        ws.send(json.dumps({"type": "ping", "pad": "x" * DAPHNE_MAX_MESSAGE}))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_a_slow_reader_loses_and_reorders_nothing(make_user, emulator_provider) -> None:
    """The client's receive buffer is tiny and it stops reading: daphne's writes back up (partial sends, Twisted's
    buffer), the direct frame writes among them. Read at last, every delta is there, in order, then the end."""
    cookie = _cookie(make_user("alice"))
    with running_daphne() as url:
        host, port = url.removeprefix("http://").split(":")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((host, int(port)))
        with ws_connect(url.replace("http", "ws", 1) + "/ws/chat/", sock=sock, origin=url,  # type: ignore[arg-type]
                        additional_headers={"Cookie": f"sessionid={cookie}"}, open_timeout=30, max_queue=1) as ws:
            message = _start_reply(ws, "Write at length [[tokens=60000]]")
            backed_up = threading.Event()
            backed_up.wait(2)  # not reading for a while: the reply keeps streaming into a full socket
            seqs, deltas = [], []
            while True:
                frame = _frame(ws)
                if frame["type"] == "message.delta" and frame["message"] == message:
                    seqs.append(frame["seq"])
                    deltas.append(frame["content"])
                elif frame["type"] in ("message.done", "message.error") and frame.get("message") == message:
                    assert frame["type"] == "message.done", frame
                    break
            stored = Message.objects.get(pk=message).content  # the done frame's copy is cut at MAX_FRAME_BYTES
            assert seqs == list(range(1, len(seqs) + 1)) and "".join(deltas) == stored
            assert len(stored.encode()) > 300_000 and frame["content"].startswith(stored[:1000])
            ws.send('{"type":"ping"}')
            assert _frame(ws) == {"type": "pong"}


def test_a_socket_gone_mid_reply_leaves_the_reply_to_finish_for_the_next_tab(make_user, emulator_provider) -> None:
    """The tab's connection is reset while deltas are being written straight to it: the reply goes on, is stored
    whole, and a new socket subscribing to the conversation gets it; the process serves on."""
    cookie = _cookie(make_user("alice"))
    with running_daphne() as url:
        with suppress(OSError, ConnectionClosed), _open(url, cookie) as ws:
            ws.send(json.dumps({"type": "send", "request_id": str(uuid.uuid4()), "conversation": None,
                                "model": MODEL, "content": "Write at length [[tokens=20000]]"}))
            created = _frame(ws)
            while created["type"] != "message.created":
                created = _frame(ws)
            while _frame(ws)["type"] != "message.delta":
                pass
            ws.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            ws.socket.close()  # a reset, mid-stream, no close frame
        message = created["assistant_message"]["id"]
        with _open(url, cookie) as again:
            again.send(json.dumps({"type": "subscribe", "conversation": created["conversation"]}))
            while True:
                frame = _frame(again)
                if frame["type"] in ("message.done", "message.error") and frame.get("message") == message:
                    break
                if frame["type"] == "conversation.snapshot" and not frame["live"]:
                    break  # it had already finished
            stored = Message.objects.get(pk=message)
            assert stored.status == "complete" and len(stored.content) > 50_000


def test_a_delta_over_64_kib_is_framed_with_the_64_bit_length(make_user) -> None:
    """A gateway that sends one huge token (a pasted block of code, say): its delta, over 65,535 bytes, is
    written straight to the socket with the 8-byte extended length, and a standard client reads it whole."""
    import asyncio
    import threading

    from gateways import catalog, offering
    from gateways.models import Provider

    big = "x" * 70_000 + " 😀 " + "y" * 30_000
    events = [{"choices": [{"index": 0, "delta": {"content": "Start: ", "role": "assistant"}}]},
              {"choices": [{"index": 0, "delta": {"content": big}}]},
              {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
              {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}]
    body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        provider = Provider(name="Big tokens", kind=Provider.Kind.OPENAI,
                            base_url=f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1")
        provider.set_api_key("k")
        provider.save()
        offering.offer(provider, [e for e in catalog.CATALOG if e.slug == MODEL])
        cookie = _cookie(make_user("alice"))
        with running_daphne() as url, _open(url, cookie) as ws:
            message = _start_reply(ws, "Paste it")
            streamed, final = _reply(ws, message)
            assert streamed == final == "Start: " + big
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def _raw_socket(url: str, cookie: str) -> socket.socket:
    """An open websocket as a bare TCP socket (the 101 read off it), for frames no client library would send."""
    host, port = url.removeprefix("http://").split(":")
    key = base64.b64encode(os.urandom(16)).decode()
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall((f"GET /ws/chat/ HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {url}\r\n"
                  f"Cookie: sessionid={cookie}\r\n\r\n").encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(1)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return sock


def _close_code_after(sock: socket.socket, frame: bytes) -> int | None:
    """Send `frame`, then read server frames up to a close frame: its code (None if the TCP closed first)."""
    sock.sendall(frame)
    data = b""
    while True:
        while len(data) >= 2:
            opcode, length, at = data[0] & 0x0F, data[1] & 0x7F, 2
            if length == 126:
                length, at = int.from_bytes(data[2:4], "big"), 4
            elif length == 127:
                length, at = int.from_bytes(data[2:10], "big"), 10
            if len(data) < at + length:
                break
            if opcode == 8:
                return int.from_bytes(data[at:at + 2], "big")
            data = data[at + length:]
        more = sock.recv(65536)
        if not more:
            return None
        data += more


def _masked(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    assert len(payload) < 126
    return bytes((0x80 | opcode, 0x80 | len(payload))) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


@pytest.mark.parametrize("frame, code", [
    (_masked(1, b'{"type":"ping","x":"\xff"}'), 1007),  # a text frame that is not UTF-8
    (bytes((0x81, 2)) + b"{}", 1002),  # a client frame without a mask
    (_masked(0x3, b"x"), 1002),  # a reserved opcode
], ids=["not-utf-8", "unmasked", "reserved-opcode"])
def test_a_client_breaking_the_protocol_hears_why_in_a_close_frame(frame, code, make_user) -> None:
    cookie = _cookie(make_user("alice"))
    with running_daphne() as url, _raw_socket(url, cookie) as sock:
        assert _close_code_after(sock, frame) == code


def test_a_socket_to_a_path_that_is_not_ours_is_refused_not_failed(make_user, emulator_provider) -> None:
    """`/ws/chat` (no slash) or any other path: the handshake is refused (daphne's 403), as a foreign Origin is,
    not failed with a 500 and a traceback in the log for each try."""
    cookie = _cookie(make_user("alice"))
    with running_daphne() as url:
        for path in ("/ws/chat", "/ws/other/"):
            with pytest.raises(InvalidStatus) as refused:
                ws_connect(url.replace("http", "ws", 1) + path, origin=url,  # type: ignore[arg-type]
                           additional_headers={"Cookie": f"sessionid={cookie}"}, open_timeout=30)
            assert refused.value.response.status_code == 403, path
        with _open(url, cookie) as ws:  # ours still opens
            ws.send('{"type":"ping"}')
            assert _frame(ws) == {"type": "pong"}
