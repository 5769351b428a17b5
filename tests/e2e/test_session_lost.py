"""A tab whose session is gone goes to sign-in once, instead of reconnecting forever.

The tab's socket drops (here: its web process restarts, as in a deploy) while its session
was deleted (signed out elsewhere, expired, cleared by an admin). The reconnect is refused
with close code 4401, which must reach the browser: daphne turns a close before accept()
into an HTTP 403, which the browser reports as 1006, a network blink to retry.
"""
from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .conftest import ROOT, LiveServer, _free_port, _wait_for, sign_in


class Restartable:
    """A second daphne on the session server's database, which the test can restart on its port."""

    def __init__(self, server: LiveServer, log: Path) -> None:
        self.server = server
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(Path(sys.executable).with_name("daphne")), "-b", "127.0.0.1", "-p", str(self.port),
                 "grokweb.asgi:application"],
                cwd=ROOT, env=self.server.env, stdout=out, stderr=subprocess.STDOUT,
            )
        _wait_for(f"{self.url}/healthz", self.proc, self.log)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@pytest.fixture
def restartable(grokweb_server: LiveServer, tmp_path: Path) -> Iterator[Restartable]:
    web = Restartable(grokweb_server, tmp_path / "restartable.log")
    web.start()
    try:
        yield web
    finally:
        web.stop()


def test_a_tab_whose_session_was_deleted_goes_to_sign_in_and_stops_reconnecting(  # type: ignore[no-untyped-def]
        browser, grokweb_server: LiveServer, restartable: Restartable) -> None:
    context = browser.new_context(base_url=restartable.url)
    try:
        page: Page = context.new_page()
        page.set_default_timeout(30_000)
        sockets: list[str] = []
        page.on("websocket", lambda ws: sockets.append(ws.url))
        here = LiveServer(restartable.url, grokweb_server.username, grokweb_server.password,
                          restartable.log, grokweb_server.env)
        sign_in(page, here)
        expect(page.locator("#input")).to_be_visible()
        session = next(c["value"] for c in context.cookies() if c["name"] == "sessionid")
        grokweb_server.manage("shell", "-c", "from django.contrib.sessions.models import Session; "
                              f"Session.objects.filter(session_key={session!r}).delete()")
        restartable.stop()  # the tab's socket drops; it retries with backoff while the server is away
        restartable.start()
        page.wait_for_url(re.compile(r"/accounts/login/\?next=%2F$"), timeout=60_000)
        expect(page.locator("#id_username")).to_be_visible()
        # One socket at load, then only the retries of the outage and the one that heard 4401:
        # the backoff (0.5 s doubling) bounds them; an endless loop would still be going.
        assert 2 <= len(sockets) <= 8, sockets
        opened_after = len(sockets)
        page.reload()  # the sign-in page itself opens no socket
        expect(page.locator("#id_username")).to_be_visible()
        assert len(sockets) == opened_after
    finally:
        context.close()
