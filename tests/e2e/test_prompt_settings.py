"""Prices in the picker, the cost estimate as one types, the parameters panel, presets and custom instructions,
in Chromium against a real server and the built-in emulator (issue 15, items 3-5)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .axe import describe, violations
from .conftest import LiveServer, sign_in

pytestmark = pytest.mark.e2e
UUID_URL = re.compile(r"/c/([0-9a-f-]{36})/$")
WORST = re.compile(r"up to \$([\d.]+) with a ([\d,]+)-token reply")


def _stored(page: Page, conversation_id: str) -> dict:  # type: ignore[type-arg]
    return page.evaluate("async (id) => (await fetch(`/api/conversations/${id}/`)).json()", conversation_id)


def _worst(page: Page) -> tuple[float, int]:
    found = WORST.search(page.locator("#cost-estimate").inner_text())
    assert found, page.locator("#cost-estimate").inner_text()
    return float(found.group(1)), int(found.group(2).replace(",", ""))


def test_picker_prices_estimate_params_presets_and_instructions(page: Page, grokweb_server: LiveServer,
                                                                screenshots) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, grokweb_server)
    expect(page.locator("#model")).to_be_enabled()

    # The picker: each model's price per million tokens; beside it the chosen one's context and badges.
    grok4 = page.locator("#model option[value='grok-4-0709']")
    # "(simulated)" is added only while real and simulated models are listed together (another test of the
    # shared server may have added a provider).
    expect(grok4).to_have_text(re.compile(r"^Grok 4 (\(simulated\) )?· \$3 in / \$15 out per 1M"))
    page.select_option("#model", "grok-4-0709")
    info = page.locator("#model-info")
    expect(info.locator(".model-price")).to_have_text("$3 / $15 per 1M")
    expect(info.locator(".badge-ctx")).to_have_text("256K context")
    expect(info.locator(".badge-reasoning")).to_be_visible()
    expect(info.locator(".badge-vision")).to_have_count(0)
    expect(info.locator(".badge-sim")).to_be_visible()

    # The estimate follows the typing, with no request per key.
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/api/" in r.url else None)
    box = page.locator("#input")
    box.press_sequentially("Summarize the history of the lighthouse", delay=5)
    box.fill("x" * 4000)
    expect(page.locator("#cost-estimate")).to_contain_text("≈ $0.0030 to send (~1,007 tokens)")
    worst4, reply = _worst(page)
    assert requests == [] and reply == 16384  # no max_tokens: the configured cap
    page.select_option("#model", "grok-4-1-fast-non-reasoning")
    expect(info.locator(".badge-vision")).to_be_visible()
    expect(page.locator("#cost-estimate")).to_contain_text("≈ $0.0002 to send")
    assert _worst(page)[0] * 20 < worst4  # grok-4 costs 15x the input and 30x the output

    # The parameters panel shows only what the model takes, with its limits.
    page.click("#settings-toggle")
    expect(page.locator("#chat-settings")).to_be_visible()
    effort = page.locator("[data-param=reasoning_effort]")
    expect(effort).to_be_hidden()
    page.select_option("#model", "grok-3-mini")
    expect(effort).to_be_visible()
    expect(page.locator("#p-max_tokens")).to_have_attribute("max", "131072")
    page.fill("#p-temperature", "5")
    expect(page.locator("#settings-status")).to_have_text("temperature must be between 0 and 2.")
    expect(page.locator("#p-temperature")).to_have_attribute("aria-invalid", "true")
    page.fill("#p-temperature", "0.3")
    page.fill("#p-max_tokens", "50")
    page.select_option("#p-reasoning_effort", "low")
    expect(page.locator("#cost-estimate")).to_contain_text("with a 50-token reply")
    page.fill("#system-prompt", "Talk like a pirate.")

    # Saved as a team preset (the e2e user is staff).
    page.click("#preset-save")
    page.fill("#preset-name", "Pirate")
    page.check("#preset-team")
    page.click("#preset-create")
    expect(page.locator("#preset option:checked")).to_have_text("Pirate (team)")
    page.screenshot(path=str(screenshots / "chat-settings.png"))
    found = violations(page)  # the open panel, the picker's badges and the estimate pass axe
    assert not found, describe(found)

    # A new chat starts clean; picking the preset sets the model, the prompt and the parameters.
    page.click("#new-chat")
    expect(page.locator("#system-prompt")).to_have_value("")
    page.select_option("#model", "grok-4-0709")
    page.select_option("#preset", label="Pirate (team)")
    expect(page.locator("#model")).to_have_value("grok-3-mini")
    expect(page.locator("#system-prompt")).to_have_value("Talk like a pirate.")
    expect(page.locator("#p-max_tokens")).to_have_value("50")
    box.fill("Ahoy? [[numbered]] [[tokens=20]]")  # numbered words: no harbor for the chat suite's search
    box.press("Enter")
    expect(page).to_have_url(UUID_URL)
    conversation_id = UUID_URL.search(page.url).group(1)  # type: ignore[union-attr]
    expect(page.locator("#thread article.msg-assistant").last).to_have_attribute("data-status", "complete",
                                                                                timeout=30_000)
    stored = _stored(page, conversation_id)
    assert stored["model"] == "grok-3-mini" and stored["system_prompt"] == "Talk like a pirate."
    assert stored["params"] == {"temperature": 0.3, "max_tokens": 50, "reasoning_effort": "low"}

    # The open chat saves changes as they are made.
    page.fill("#p-temperature", "0.9")
    expect(page.locator("#settings-status")).to_have_text("Saved for this chat.")
    assert _stored(page, conversation_id)["params"]["temperature"] == 0.9

    # Custom instructions start every new chat (cleared again after: the server is shared with other tests).
    try:
        _instructions_start_new_chats(page, conversation_id)
    finally:
        page.evaluate("""async () => {
            const csrf = document.cookie.match(/csrftoken=([^;]+)/)[1];
            await fetch('/api/me/instructions/', {method: 'PUT', headers: {'Content-Type': 'application/json',
                'X-CSRFToken': csrf}, body: JSON.stringify({custom_instructions: ''})});
        }""")
    assert page.js_errors == []  # type: ignore[attr-defined]


def _instructions_start_new_chats(page: Page, earlier: str) -> None:
    box = page.locator("#input")
    page.click("#user-menu summary")
    page.click("#open-instructions")
    page.fill("#instructions-text", "Answer in one sentence.")
    page.click("#instructions-save")
    expect(page.locator("#instructions-dialog")).to_be_hidden()
    page.click("#new-chat")
    box.fill("What is a lighthouse? [[numbered]] [[tokens=20]]")
    box.press("Enter")
    expect(page).to_have_url(UUID_URL)
    second = UUID_URL.search(page.url).group(1)  # type: ignore[union-attr]
    assert second != earlier
    expect(page.locator("#thread article.msg-assistant").last).to_have_attribute("data-status", "complete",
                                                                                timeout=30_000)
    assert _stored(page, second)["system_prompt"] == "Answer in one sentence."
