"""A signed-in websocket client over the real ASGI application (Channels' communicator)."""
from __future__ import annotations

import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from grokweb.asgi import application


@database_sync_to_async
def session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


class Socket:
    """Reads frames until one matches; every read is bounded by a timeout."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.ws = communicator
        self.seen: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send_json_to(frame)

    async def recv(self, timeout: float = 10) -> dict[str, Any]:
        frame = await self.ws.receive_json_from(timeout=timeout)
        self.seen.append(frame)
        return frame

    async def until(self, type_: str, timeout: float = 10, **match: Any) -> dict[str, Any]:
        while True:
            frame = await self.recv(timeout)
            if frame["type"] == type_ and all(frame.get(k) == v for k, v in match.items()):
                return frame

    async def chat(self, content: str, conversation: str | None = None, **extra: Any) -> dict[str, Any]:
        """Send a message and return the `message.created` answer."""
        request_id = str(uuid.uuid4())
        await self.send({"type": "send", "request_id": request_id, "conversation": conversation,
                         "content": content, **extra})
        return await self.until("message.created", request_id=request_id)

    async def close(self) -> None:
        await self.ws.disconnect()


async def connect(user: Any | None, origin: bytes = b"http://127.0.0.1") -> tuple[WebsocketCommunicator, bool, Any]:
    headers = [(b"host", b"127.0.0.1"), (b"origin", origin)]
    if user is not None:
        headers.append((b"cookie", f"sessionid={await session_cookie(user)}".encode()))
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


async def refused_with(user: Any | None) -> int:
    """The close code a refused socket hears: accepted first, then closed (a close before accept is an
    HTTP 403 on the wire, which this in-process communicator would report as a code no client sees)."""
    communicator, accepted, _ = await connect(user)
    assert accepted, "refused before accept(): daphne answers HTTP 403 and the code never reaches the client"
    message = await communicator.receive_output(timeout=5)
    assert message["type"] == "websocket.close", message
    await communicator.wait()
    return int(message["code"])


async def open_socket(user: Any) -> Socket:
    communicator, connected, code = await connect(user)
    assert connected, code
    return Socket(communicator)
