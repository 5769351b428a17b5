"""Chromium's own websocket against the real server: what it offers (permessage-deflate) is declined, so the
frames written straight to the socket are plain; and a message over the server's limit is closed with 1009,
a code the page can read, not 1006."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page

from .conftest import LiveServer, sign_in

pytestmark = pytest.mark.e2e

OPEN_AND_PING = """() => new Promise((resolve, reject) => {
  const ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/ws/chat/");
  ws.onopen = () => ws.send(JSON.stringify({type: "ping"}));
  ws.onmessage = (e) => {
    if (JSON.parse(e.data).type === "pong") { resolve({extensions: ws.extensions}); ws.close(); }
  };
  ws.onerror = () => reject(new Error("websocket error"));
})"""

OVERSIZED = """() => new Promise((resolve) => {
  const ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/ws/chat/");
  ws.onopen = () => ws.send(JSON.stringify({type: "ping", pad: "x".repeat(1100 * 1024)}));
  ws.onclose = (e) => resolve(e.code);
})"""


def test_chromium_gets_plain_frames_and_hears_1009_over_the_limit(page: Page, grokweb_server: LiveServer) -> None:
    sign_in(page, grokweb_server)
    assert page.evaluate(OPEN_AND_PING) == {"extensions": ""}  # offered by Chromium, not negotiated
    assert page.evaluate(OVERSIZED) == 1009
