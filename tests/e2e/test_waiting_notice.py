"""A gateway that says nothing: after WAITING_NOTICE_S (5 s) the reply says whom it is waiting for."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .conftest import LiveServer, sign_in


def test_a_silent_gateway_is_named_while_the_reply_waits(page: Page, grokweb_server: LiveServer,  # type: ignore[no-untyped-def]
                                                         screenshots) -> None:
    sign_in(page, grokweb_server)
    page.locator("#new-chat").click()
    box = page.locator("#input")
    box.fill("Are you there? [[fault:stall:0]]")  # the emulator accepts the call and stays silent
    box.press("Enter")
    reply = page.locator("#thread article.msg-assistant").last
    thinking = reply.locator(".thinking.live")
    expect(thinking).to_have_text(re.compile(r"^Thinking… \d+\.\ds$"))
    expect(thinking).to_have_text(re.compile(r"^Still waiting for .+… \d+\.\ds$"), timeout=20_000)
    page.screenshot(path=str(screenshots / "still-waiting-light.png"))
    page.locator("#send").click()  # the stop button while the reply streams
    expect(reply).to_have_attribute("data-status", "cancelled")
    expect(reply.locator(".thinking.live")).to_have_count(0)
    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]
