"""Refused sockets hear their close code over a real daphne, not an HTTP 403.

The in-process communicator reports a close before accept() as a close code, but daphne
answers such a handshake with HTTP 403 and the browser sees only 1006: a tab whose session
is gone could not tell "sign in again" from "the network blinked" and would retry forever.
So this runs daphne in a subprocess, on the test database, and speaks websocket to it.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from accounts.models import User
from accounts.status import CLOSE_ANONYMOUS, CLOSE_DISABLED, CLOSE_PENDING

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _database_url() -> str:
    """The test database, for the daphne process to share (its rows are committed: transaction=True)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def daphne(tmp_path: Path) -> Iterator[int]:
    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "grokweb.settings", "DATABASE_URL": _database_url(),
           "SECRET_KEY": settings.SECRET_KEY, "ALLOWED_HOSTS": "127.0.0.1", "DEBUG": "0",
           "LOG_LEVEL": "WARNING", "READ_DOTENV": "false"}
    for key in ("REDIS_URL", "CELERY_BROKER_URL"):
        env.pop(key, None)
    log = tmp_path / "daphne.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("daphne")), "-b", "127.0.0.1", "-p", str(port),
                                 "grokweb.asgi:application"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "daphne did not start:\n" + log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.1)  # polling a process that is starting, not our own work
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _cookie(user: User | None) -> dict[str, str]:
    if user is None:
        return {}
    client = Client()
    client.force_login(user)
    return {"Cookie": f"sessionid={client.cookies['sessionid'].value}"}


def _close_code(port: int, user: User | None) -> int:
    """Open /ws/chat/ as `user` and return the close code the server sends (the handshake must succeed)."""
    with ws_connect(f"ws://127.0.0.1:{port}/ws/chat/", origin=f"http://127.0.0.1:{port}",  # type: ignore[arg-type]
                    additional_headers=_cookie(user), open_timeout=20) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=20)
    assert closed.value.rcvd is not None, "closed without a close frame"
    return closed.value.rcvd.code


def test_refused_sockets_hear_their_close_code_through_daphne(daphne, make_user) -> None:  # type: ignore[no-untyped-def]
    pending = make_user("pending-pat", status="pending", is_active=False)
    disabled = make_user("disabled-dan", status="disabled", is_active=False)
    assert _close_code(daphne, None) == CLOSE_ANONYMOUS
    assert _close_code(daphne, pending) == CLOSE_PENDING
    assert _close_code(daphne, disabled) == CLOSE_DISABLED


def test_a_socket_whose_session_was_deleted_hears_4401(daphne, make_user) -> None:  # type: ignore[no-untyped-def]
    from django.contrib.sessions.models import Session

    user = make_user("alice")
    cookie = _cookie(user)
    with ws_connect(f"ws://127.0.0.1:{daphne}/ws/chat/", origin=f"http://127.0.0.1:{daphne}",
                    additional_headers=cookie, open_timeout=20) as ws:
        ws.send('{"type": "ping"}')
        assert '"pong"' in str(ws.recv(timeout=20))  # signed in: the socket stays open
    Session.objects.all().delete()  # signed out elsewhere, expired, or cleared by an admin
    with ws_connect(f"ws://127.0.0.1:{daphne}/ws/chat/", origin=f"http://127.0.0.1:{daphne}",
                    additional_headers=cookie, open_timeout=20) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=20)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_ANONYMOUS
