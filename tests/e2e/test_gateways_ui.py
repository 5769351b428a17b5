"""The providers and health pages in a browser: test a connection, serve a reply, read the health figures."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import LiveServer, sign_in

pytestmark = pytest.mark.e2e


def test_providers_page_test_connection_and_health(page: Page, grokweb_server: LiveServer, screenshots) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, grokweb_server)

    # A reply, so the health page has a real attempt; staff see which gateway served it.
    box = page.locator("#input")
    box.fill("Hello gateways [[tokens=30]]")
    box.press("Enter")
    reply = page.locator("#thread article.msg-assistant").last
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
    expect(reply.locator(".route")).to_have_text("via Built-in emulator")

    # A second provider, added through the form, pointing at the same emulator with a wrong fault header.
    page.goto("/gateways/providers/add/")
    page.fill("#id_name", "Backup gateway")
    page.select_option("#id_kind", "crazyrouter")
    page.fill("#id_base_url", f"{grokweb_server.url}/emulator/v1")
    page.fill("#id_api_key", grokweb_server.env["EMULATOR_API_KEY"])  # the emulator's own: it refuses others
    page.fill("#id_headers", '{"X-Emulator-Fault": "403_credits"}')
    page.screenshot(path=str(screenshots / "gateways-provider-form.png"), full_page=True)
    page.click("form.form-grid button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("Added Backup gateway")
    assert grokweb_server.env["EMULATOR_API_KEY"] not in page.content()

    # Test connection, on each provider: plain words.
    emulator = page.locator("section.gw-provider", has_text="Built-in emulator")
    emulator.get_by_role("button", name="Test connection").click()
    expect(page.locator(".flash-success")).to_contain_text(re.compile(r"Built-in emulator — Working: 9 models listed"))
    backup = page.locator("section.gw-provider", has_text="Backup gateway")
    backup.get_by_role("button", name="Test connection").click()
    expect(page.locator(".flash-error")).to_contain_text("Backup gateway — No credits")
    page.screenshot(path=str(screenshots / "gateways-providers.png"), full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(screenshots / "gateways-providers-dark.png"), full_page=True)
    page.emulate_media(color_scheme="light")

    # The backup (out of credits) goes first for the default model: the reply still arrives, in one piece,
    # from the emulator; the failed attempt shows on the health page.
    page.goto("/gateways/routes/")
    card = page.locator("#model-grok-4-1-fast-reasoning")
    card.locator("tr", has_text="Backup gateway").get_by_role("button", name="Move up").click()
    expect(page.locator(".flash-success")).to_contain_text("Backup gateway is now tried first")
    expect(card.locator("tbody tr").first).to_contain_text("Backup gateway")
    page.screenshot(path=str(screenshots / "gateways-routes.png"), full_page=True)

    page.goto("/")
    box = page.locator("#input")
    box.fill("Failover, please [[tokens=40]]")
    box.press("Enter")
    reply = page.locator("#thread article.msg-assistant").last
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
    expect(reply.locator(".route")).to_have_text("via Built-in emulator")
    expect(page.locator("#thread article.msg-assistant")).to_have_count(1)
    expect(reply.locator(".msg-error")).to_be_hidden()

    page.goto("/gateways/health/")
    hour = page.locator("#health-hour")
    # The refusal was the backup's, not the emulator's (whose row also holds earlier tests' faults).
    expect(hour.locator("tbody tr", has_text="Built-in emulator").first).not_to_contain_text("upstream_forbidden")
    expect(hour.locator("tbody tr", has_text="Backup gateway")).to_contain_text("upstream_forbidden × 1")
    expect(page.locator("#routes")).to_contain_text("closed (healthy)")
    page.screenshot(path=str(screenshots / "gateways-health.png"), full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(screenshots / "gateways-health-dark.png"), full_page=True)
    assert not page.js_errors  # type: ignore[attr-defined]
