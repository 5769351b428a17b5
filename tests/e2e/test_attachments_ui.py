"""Attachments in Chromium: pick an image, send it to a vision model on the emulator, see the reply,
the thumbnail (an owner-only URL) and the image tokens; an image for a text-only model is refused."""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from .conftest import LiveServer, sign_in

pytestmark = pytest.mark.e2e
VISION = "grok-4-1-fast-non-reasoning"


def _png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (40, 120, 200)).save(out, "PNG")
    return out.getvalue()


def _attach(page: Page, name: str, data: bytes, mime: str = "image/png") -> None:
    with page.expect_file_chooser() as chooser:
        page.locator("#attach").click()
    chooser.value.set_files(files=[{"name": name, "mimeType": mime, "buffer": data}])


def test_an_image_goes_to_a_vision_model_and_not_to_a_text_only_one(page: Page, grokweb_server: LiveServer,
                                                                    screenshots) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, grokweb_server)
    page.locator("#new-chat").click()
    expect(page.locator("#model")).to_be_enabled()
    page.select_option("#model", VISION)

    _attach(page, "chart.png", _png((640, 480)))
    chip = page.locator("#att-tray .att-item")
    expect(chip).to_have_class(re.compile(r"\batt-ready\b"))
    expect(chip.locator(".att-detail")).to_have_text("~1,280 tokens")  # (2 x 2 tiles + 1) x 256
    expect(chip.locator("img.att-thumb")).to_be_visible()
    page.screenshot(path=str(screenshots / "attachment-tray.png"))

    page.locator("#input").fill("What is in this picture? [[tokens=20]]")
    page.locator("#input").press("Enter")
    reply = page.locator("#thread article.msg-assistant").last
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
    expect(reply.locator(".content")).to_contain_text("I see 1 image (640x480).")
    expect(reply.locator(".usage")).to_contain_text("(1,280 image)")
    thumb = page.locator("#thread article.msg-user .msg-attachments img.sent-thumb").last
    expect(thumb).to_be_visible()
    # A 320 px thumbnail (owner-only URL) linking to the stored image.
    page.wait_for_function("img => img.complete && img.naturalWidth === 320", arg=thumb.element_handle())
    href = thumb.locator("xpath=..").get_attribute("href")
    assert href and re.fullmatch(r"/api/attachments/[0-9a-f-]{36}/", href)
    expect(page.locator("#att-tray")).to_be_hidden()  # the tray emptied with the send
    page.screenshot(path=str(screenshots / "attachment-sent.png"))

    # The same picture for grok-3-mini, which reads no images: a clear message, nothing sent.
    page.locator("#new-chat").click()
    page.select_option("#model", "grok-3-mini")
    _attach(page, "chart.png", _png((640, 480)))
    expect(page.locator("#att-tray .att-item")).to_have_class(re.compile(r"\batt-ready\b"))
    status = page.locator("#att-tray .att-advice")
    expect(status).to_contain_text("Grok 3 Mini cannot read images")  # said as soon as both are chosen
    page.locator("#input").fill("Describe it")
    page.locator("#input").press("Enter")
    expect(status).to_contain_text("cannot read images")
    expect(page.locator("#thread article.msg-user")).to_have_count(0)
    expect(page.locator("#input")).to_have_value("Describe it")
    # It offers a model that reads images; taking it clears the message.
    status.get_by_role("button", name=re.compile(r"^Use ")).click()
    assert page.locator("#model").input_value() != "grok-3-mini"
    expect(status).to_be_hidden()
    page.select_option("#model", "grok-3-mini")
    expect(status).to_contain_text("cannot read images")

    # A file that lies about being an image is refused by the server, and its chip goes.
    _attach(page, "setup.png", b"MZ\x90\x00" + b"\x00" * 64, "image/png")
    expect(page.locator("#att-tray .att-status").first).to_contain_text("named like an image")
    expect(page.locator("#att-tray .att-item")).to_have_count(1)
    # Chromium logs the refused upload's 400 as a console error; nothing else may fail.
    errors = [e for e in page.js_errors if "status of 400" not in e]  # type: ignore[attr-defined]
    assert not errors, errors
