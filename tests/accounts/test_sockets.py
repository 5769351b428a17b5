"""Who is on a websocket: the session cookie's user, read in one database hop (accounts.sockets)."""
from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.sockets import _resolve
from accounts.status import CLOSE_ANONYMOUS
from grokweb.asgi import application
from tests.chat.wsclient import session_cookie

db = database_sync_to_async


@pytest.mark.django_db
def test_the_handshake_reads_the_session_and_the_user_and_nothing_else(user, django_assert_num_queries) -> None:
    from django.test import Client

    client = Client()
    client.force_login(user)
    with django_assert_num_queries(2):
        session, found = _resolve(client.cookies["sessionid"].value)
    assert found == user and session.session_key == client.cookies["sessionid"].value


@pytest.mark.django_db
def test_an_unknown_session_is_nobody(django_assert_num_queries) -> None:
    with django_assert_num_queries(1):
        _, found = _resolve("no-such-session-key-0123456789abcdef")
    assert not found.is_authenticated


async def _close_code(cookie: str) -> int:
    socket = WebsocketCommunicator(application, "/ws/chat/", headers=[
        (b"origin", b"http://127.0.0.1"), (b"cookie", f"csrftoken=x; sessionid={cookie}".encode())])
    accepted, _ = await socket.connect(timeout=5)
    assert accepted
    message = await socket.receive_output(timeout=5)
    await socket.wait()
    return int(message["code"]) if message["type"] == "websocket.close" else 0


@pytest.mark.django_db(transaction=True)
async def test_a_session_from_before_a_password_change_opens_no_socket(user) -> None:
    """As on the pages (Django's get_user): changing the password signs every other session out."""
    cookie = await session_cookie(user)
    user.set_password("a brand new passphrase 42")
    await db(user.save)()
    assert await _close_code(cookie) == CLOSE_ANONYMOUS
