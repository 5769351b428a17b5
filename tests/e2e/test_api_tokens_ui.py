"""API tokens in the browser: create one, see it once, use it from a script, find it in My usage, revoke it.

Run apart from the async suite:

    .venv/bin/pytest tests/e2e/test_api_tokens_ui.py -m e2e -p no:asyncio -p no:django
"""
from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from .conftest import LiveServer, sign_in

pytestmark = pytest.mark.e2e


def test_a_token_is_shown_once_works_from_a_script_and_stops_when_revoked(  # type: ignore[no-untyped-def]
        page: Page, grokweb_server: LiveServer, screenshots) -> None:
    sign_in(page, grokweb_server)
    page.goto("/accounts/tokens/")
    expect(page.locator("h1")).to_have_text("API tokens")
    page.fill("#id_name", "notebook")
    page.select_option("#id_expires", "30")
    page.check("input[name=models][value=grok-4-1-fast-non-reasoning]")
    page.click("text=Create token")
    token = page.locator("#token-value").input_value()
    assert re.fullmatch(r"grokweb_[0-9A-Za-z]{38}", token)
    expect(page.locator(".flash")).to_contain_text("shown only once")
    page.screenshot(path=str(screenshots / "api-tokens-created.png"), full_page=True)

    api = httpx.Client(base_url=f"{grokweb_server.url}/v1", headers={"Authorization": f"Bearer {token}"},
                       timeout=60)
    assert [m["id"] for m in api.get("/models").json()["data"]] == ["grok-4-1-fast-non-reasoning"]
    answer = api.post("/chat/completions", json={"model": "grok-4-1-fast-non-reasoning",
                                                 "messages": [{"role": "user", "content": "Hi [[tokens=5]]"}]})
    assert answer.status_code == 200 and answer.json()["usage"]["completion_tokens"] == 5

    page.goto("/accounts/tokens/")
    assert token not in page.content()  # never shown again
    row = page.locator("tr", has_text="notebook")
    expect(row).to_contain_text("grok-4-1-fast-non-reasoning")
    expect(row).to_contain_text("from 127.0.0.1")
    page.goto("/usage/me/")
    expect(page.locator("#by-token")).to_contain_text("notebook")
    expect(page.locator("#by-source")).to_contain_text("Team API")
    page.goto("/accounts/tokens/")
    page.click("button[aria-label='Revoke notebook']")
    expect(page.locator("tr", has_text="notebook")).to_contain_text("revoked")
    page.screenshot(path=str(screenshots / "api-tokens.png"), full_page=True)
    refused = api.get("/models")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "token_revoked"
    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]
