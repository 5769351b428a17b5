"""The websocket opens only from an origin we serve: scheme, host and port all match (over a real daphne)."""
from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from grokweb.asgi import application
from grokweb.origin import origin_allowed
from tests.chat.wsclient import session_cookie
from tests.site.daphne import running_daphne

HOSTS = ["127.0.0.1", "localhost", "chat.example.com"]


@pytest.mark.parametrize(("origin", "host", "scheme", "trusted", "ok"), [
    ("http://127.0.0.1:8000", "127.0.0.1:8000", "ws", [], True),
    ("http://127.0.0.1:9999", "127.0.0.1:8000", "ws", [], False),  # another port
    ("https://127.0.0.1:8000", "127.0.0.1:8000", "ws", [], False),  # another scheme
    ("http://localhost:8000", "127.0.0.1:8000", "ws", [], False),  # another host
    ("https://chat.example.com", "chat.example.com", "wss", [], True),
    ("https://chat.example.com:443", "chat.example.com", "wss", [], True),  # the default port, spelled out
    ("http://chat.example.com", "chat.example.com", "wss", [], False),
    ("https://chat.example.com", "127.0.0.1:8000", "ws", ["https://chat.example.com"], True),  # behind a proxy
    ("https://chat.example.com:8443", "127.0.0.1:8000", "ws", ["https://chat.example.com"], False),
    ("http://chat.example.com", "127.0.0.1:8000", "ws", ["https://chat.example.com"], False),
    ("https://a.example.com", "127.0.0.1:8000", "ws", ["https://*.example.com"], True),
    ("https://example.com.evil.net", "127.0.0.1:8000", "ws", ["https://*.example.com"], False),
    ("http://evil.example:8000", "evil.example:8000", "ws", [], False),  # its own, but not an allowed host
    ("", "127.0.0.1:8000", "ws", [], False),
    ("null", "127.0.0.1:8000", "ws", [], False),
    ("http://127.0.0.1:notaport", "127.0.0.1:8000", "ws", [], False),
])
def test_an_origin_must_match_scheme_host_and_port(origin, host, scheme, trusted, ok) -> None:
    assert origin_allowed(origin, host, scheme, trusted, HOSTS) is ok


def _opens(url: str, origin: str, cookie: str) -> bool:
    try:
        with ws_connect(url, origin=origin, additional_headers={"Cookie": f"sessionid={cookie}"},  # type: ignore[arg-type]
                        open_timeout=20):
            return True
    except InvalidStatus as refused:
        assert refused.response.status_code == 403
        return False


@pytest.mark.django_db(transaction=True)
def test_daphne_refuses_the_same_host_on_another_port_or_scheme(user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"].value
    with running_daphne(CSRF_TRUSTED_ORIGINS="https://chat.example.com") as url:
        port = url.rsplit(":", 1)[1]
        ws = f"ws://127.0.0.1:{port}/ws/chat/"
        assert _opens(ws, f"http://127.0.0.1:{port}", cookie)
        assert _opens(ws, "https://chat.example.com", cookie)  # listed: the public origin behind a proxy
        for other in ("http://127.0.0.1:9999", f"https://127.0.0.1:{port}", f"http://localhost:{port}",
                      "https://chat.example.com:8443", "http://evil.example"):
            assert not _opens(ws, other, cookie), other


@pytest.mark.parametrize(("origin", "ok"), [
    ("http://localhost", True),
    ("http://127.0.0.1:8000", True),
    ("https://chat.example.com", True),
    ("http://evil.example", False),
    ("", False),
    ("null", False),
])
def test_without_a_host_header_the_origins_host_is_checked_against_allowed_hosts(origin, ok) -> None:
    """PROTOCOL.md: the Origin is checked against ALLOWED_HOSTS. With no Host to compare the port and
    scheme with (an in-process client: every HTTP/1.1 client sends one), its host name alone decides."""
    assert origin_allowed(origin, "", "ws", [], HOSTS) is ok


@pytest.mark.django_db(transaction=True)
async def test_an_in_process_client_with_an_allowed_origin_and_no_host_opens_the_socket(user) -> None:
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=[
        (b"origin", b"http://localhost"), (b"cookie", f"sessionid={await session_cookie(user)}".encode())])
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=5) == {"type": "pong"}
    await communicator.disconnect()
    foreign = WebsocketCommunicator(application, "/ws/chat/", headers=[
        (b"origin", b"http://evil.example"), (b"cookie", f"sessionid={await session_cookie(user)}".encode())])
    assert (await foreign.connect(timeout=5))[0] is False
