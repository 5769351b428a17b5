"""The browser UI against a real server and the built-in emulator (Playwright, sync API).

Run apart from the async suite:

    .venv/bin/pytest tests/e2e -m e2e -p no:asyncio -p no:django

Screenshots land in tests/e2e/screenshots/ (gitignored).
"""
from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from .conftest import LiveServer, sign_in

pytestmark = pytest.mark.e2e

UUID_URL = re.compile(r"/c/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/$")
USAGE = re.compile(r"^[\d,]+ in · [\d,]+ out( · [\d,]+ reasoning)? · \$\d+\.\d+")


def last_reply(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("#thread article.msg-assistant").last


def content_length(page: Page) -> int:
    return int(page.evaluate(
        "() => { const a = [...document.querySelectorAll('#thread article.msg-assistant')].pop();"
        " return a ? a.querySelector('.content').innerText.length : 0; }"
    ))


def send(page: Page, text: str) -> None:
    box = page.locator("#input")
    box.fill(text)
    box.press("Enter")


def test_sign_in_rejects_bad_password(page: Page, grokweb_server: LiveServer, screenshots) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    page.fill("#id_username", grokweb_server.username)
    page.fill("#id_password", "wrong password")
    page.click("button[type=submit]")
    expect(page.locator(".alert-error")).to_contain_text("correct username and password")
    expect(page.locator("#id_username")).to_have_value(grokweb_server.username)
    page.screenshot(path=str(screenshots / "login-error.png"))
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(screenshots / "login-error-dark.png"))


def test_chat_streams_stops_and_survives_reload(page: Page, grokweb_server: LiveServer, screenshots) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, grokweb_server)
    expect(page.locator("#empty-state")).to_be_visible()
    page.screenshot(path=str(screenshots / "empty-light.png"))

    # Models come from /api/models/; the emulator's are labelled simulated.
    expect(page.locator("#model")).to_be_enabled()
    assert page.locator("#model option").count() > 1
    sim = page.locator("#model-info .badge-sim")
    expect(sim).to_be_visible()
    expect(sim).to_have_text("simulated")
    assert sim.get_attribute("title")

    # 1. A short question: the answer streams in, then gets its usage line.
    send(page, "Hello Grok, what is a **lattice**? Show some code.")
    expect(page.locator("#thread article.msg-user").first).to_contain_text("Hello Grok")
    expect(page).to_have_url(UUID_URL)
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
    expect(reply.locator(".content")).not_to_be_empty()
    expect(reply.locator(".usage")).to_have_text(USAGE)
    assert content_length(page) > 20
    # Markdown rendered, sanitized, code highlighted.
    assert reply.locator(".content strong, .content p").count() > 0
    if reply.locator(".code-block").count():
        expect(reply.locator(".code-block code.hljs").first).to_be_visible()
    # The conversation is in the sidebar and marked active.
    expect(page.locator("#conv-list .conv-item.active")).to_have_count(1)
    conversation_url = page.url
    page.screenshot(path=str(screenshots / "chat-light.png"), full_page=False)

    # 2. A long answer, stopped midway: marked Stopped, the partial text kept.
    send(page, "Tell me everything about rockets. [[tokens=2000]]")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "streaming")
    expect(page.locator("#send.stop")).to_be_visible()
    page.wait_for_function(
        "() => { const a = [...document.querySelectorAll('#thread article.msg-assistant')].pop();"
        " return a && a.querySelector('.content').innerText.length > 150; }"
    )
    page.locator("#send").click()  # the send button is the stop button while streaming
    expect(reply).to_have_attribute("data-status", "cancelled")
    expect(reply.locator(".badge-stopped")).to_be_visible()
    expect(reply.locator(".badge-stopped")).to_have_text("Stopped")
    kept = content_length(page)
    assert kept > 150
    expect(reply.locator(".usage")).to_contain_text("estimated")
    expect(page.locator("#send.stop")).to_have_count(0)
    page.screenshot(path=str(screenshots / "stopped-light.png"))
    stopped_text = reply.locator(".content").inner_text()
    assert len(stopped_text) < 2000 * 8  # really cut short

    # 3. Reload mid-stream: the snapshot brings the text so far and the reply goes on.
    send(page, "Now write a very long story about a harbor. [[tokens=6000]]")
    page.wait_for_function(
        "() => { const a = [...document.querySelectorAll('#thread article.msg-assistant')].pop();"
        " return a && a.dataset.status === 'streaming' && a.querySelector('.content').innerText.length > 300; }"
    )
    before = content_length(page)
    page.reload()
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "streaming")
    page.wait_for_function(
        f"() => {{ const a = [...document.querySelectorAll('#thread article.msg-assistant')].pop();"
        f" return a && a.querySelector('.content').innerText.length > {before}; }}"
    )
    page.screenshot(path=str(screenshots / "streaming-after-reload-light.png"))
    expect(reply).to_have_attribute("data-status", "complete", timeout=60_000)
    expect(reply.locator(".usage")).to_have_text(USAGE)
    # The earlier replies came back from the database, the stopped one still marked.
    expect(page.locator("#thread article.msg-assistant")).to_have_count(3)
    expect(page.locator("#thread article.msg-assistant").nth(1).locator(".badge-stopped")).to_be_visible()
    assert content_length(page) > before
    assert page.url == conversation_url

    # 4. An upstream failure mid-stream: shown inline, partial text kept, Retry offered.
    send(page, "This one breaks. [[fault:stream_error:5]]")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "error", timeout=30_000)
    error_box = reply.locator(".msg-error")
    expect(error_box).to_be_visible()
    assert "Traceback" not in error_box.inner_text() and "{" not in error_box.inner_text()
    expect(error_box.locator("button.retry")).to_be_visible()
    page.screenshot(path=str(screenshots / "error-light.png"))
    failed_id = reply.get_attribute("data-id")
    error_box.locator("button.retry").click()
    expect(page.locator(f'#thread article[data-id="{failed_id}"]')).to_have_count(0)
    expect(last_reply(page)).to_have_attribute("data-status", re.compile("streaming|error"))

    # 5. Dark mode, same conversation.
    page.emulate_media(color_scheme="dark")
    expect(last_reply(page)).to_have_attribute("data-status", "error", timeout=30_000)
    page.locator('#thread article.msg-assistant >> nth=0').scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "chat-dark.png"))
    bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert bg != "rgb(255, 255, 255)"

    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]


def test_mobile_layout_and_navigation(browser, grokweb_server: LiveServer, screenshots) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(
        base_url=grokweb_server.url, viewport={"width": 390, "height": 844}, device_scale_factor=2,
        is_mobile=True, has_touch=True,
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        sign_in(page, grokweb_server)
        # The sidebar is a drawer behind a toggle.
        expect(page.locator("#sidebar")).not_to_be_in_viewport()
        expect(page.locator("#sidebar-toggle")).to_be_visible()
        send(page, "Short answer please, on a phone.")
        expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=30_000)
        expect(page).to_have_url(UUID_URL)
        first_url = page.url
        page.screenshot(path=str(screenshots / "mobile-chat-light.png"))

        page.locator("#sidebar-toggle").click()
        expect(page.locator("#sidebar")).to_be_in_viewport()
        page.wait_for_timeout(300)  # the slide-in transition
        page.screenshot(path=str(screenshots / "mobile-sidebar-light.png"))

        # New chat from the drawer, then back to the first one through the list.
        page.locator("#new-chat").click()
        expect(page).to_have_url(f"{grokweb_server.url}/")
        expect(page.locator("#empty-state")).to_be_visible()
        expect(page.locator("#sidebar")).not_to_be_in_viewport()
        page.locator("#sidebar-toggle").click()
        page.locator("#conv-list .conv-link").first.click()
        expect(page).to_have_url(UUID_URL)
        expect(page.locator("#thread article.msg-assistant")).to_have_count(1)
        assert page.url in {first_url} or UUID_URL.search(page.url)

        # Browser back returns to the new-chat page.
        page.go_back()
        expect(page).to_have_url(f"{grokweb_server.url}/")
        expect(page.locator("#thread article")).to_have_count(0)

        page.emulate_media(color_scheme="dark")
        page.go_forward()
        expect(page.locator("#thread article.msg-assistant")).to_have_count(1)
        page.screenshot(path=str(screenshots / "mobile-chat-dark.png"))
        assert not errors, errors
    finally:
        context.close()


SEED_NOTE = """
from django.contrib.auth import get_user_model
from chat.models import Conversation, Message
owner = get_user_model().objects.get(username={user!r})
conv = Conversation.objects.create(owner=owner, title='Field notes')
m = Message.objects.create(conversation=conv, role='user', status='complete', content={text!r})
conv.current_leaf_id = m.id
conv.save()
"""


def test_search_and_titles(page: Page, grokweb_server: LiveServer) -> None:
    # A word of its own, in one conversation: whatever other tests (and the emulator's words) left behind.
    word = f"quokka{uuid.uuid4().hex[:10]}"
    grokweb_server.manage("shell", "-c", SEED_NOTE.format(user=grokweb_server.username,
                                                          text=f"Notes on the {word} colony."))
    sign_in(page, grokweb_server)
    expect(page.locator("#conv-list .conv-item").first).to_be_visible()
    page.fill("#search", word)
    expect(page.locator("#conv-list .conv-item")).to_have_count(1)
    expect(page.locator("#conv-list .conv-item")).to_contain_text("Field notes")
    page.fill("#search", "no such words anywhere zzz")
    expect(page.locator("#conv-empty")).to_be_visible()
    expect(page.locator("#conv-empty")).to_have_text("No conversations match.")
    page.fill("#search", "")
    expect(page.locator("#conv-list .conv-item").first).to_be_visible()
    # Titles are written in the background and arrive as conversation.updated or on load.
    titles = page.locator("#conv-list .conv-link").all_inner_texts()
    assert titles and all(t.strip() for t in titles)


def hidden_reasoning_model(page: Page) -> str:
    slug = page.evaluate(
        "() => [...document.querySelectorAll('#model option')].map(o => o.value)"
        ".find(v => /reasoning$/.test(v) && !/non-reasoning/.test(v)) || ''"
    )
    assert slug, "the emulator offers a hidden-reasoning model"
    return str(slug)


def test_a_reasoning_reply_reloaded_mid_stream_still_says_how_long_it_thought(page: Page,
                                                                              grokweb_server: LiveServer) -> None:
    sign_in(page, grokweb_server)
    expect(page.locator("#model")).to_be_enabled()
    page.select_option("#model", hidden_reasoning_model(page))
    send(page, "Think it over, then answer at length. [[tokens=6000]]")
    thought = re.compile(r"^Thought for \d+\.\ds$")
    reply = last_reply(page)
    expect(reply.locator(".thinking")).to_have_text(thought, timeout=30_000)  # the answer has begun
    expect(reply).to_have_attribute("data-status", "streaming")

    page.reload()
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "streaming")
    expect(reply.locator(".thinking")).to_have_text(thought)  # not only once the reply has ended
    page.keyboard.press("Escape")  # stops the reply
    expect(reply).to_have_attribute("data-status", "cancelled")
    expect(reply.locator(".thinking")).to_contain_text("Thought for")
    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]


def test_thinking_timer_and_reasoning_trace(page: Page, grokweb_server: LiveServer, screenshots) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, grokweb_server)
    page.locator("#new-chat").click()
    expect(page.locator("#model")).to_be_enabled()

    # Hidden reasoning: "Thinking… 0.3s" counts while nothing is written, then the tokens.
    page.select_option("#model", hidden_reasoning_model(page))
    send(page, "Think about this for a moment. [[tokens=60]]")
    thinking = page.locator("#thread article.msg-assistant .thinking.live")
    thinking.wait_for(state="visible")
    assert re.match(r"^Thinking… \d+\.\ds$", thinking.inner_text().strip())
    page.screenshot(path=str(screenshots / "thinking-light.png"))
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
    expect(reply.locator(".thinking")).to_have_text(re.compile(r"^Thought for \d+\.\ds · [\d,]+ reasoning tokens$"))

    # A reasoning trace (grok-3-mini): a collapsible Reasoning block above the answer.
    options = page.locator("#model option").evaluate_all("os => os.map(o => o.value)")
    if "grok-3-mini" not in options:
        pytest.skip("grok-3-mini is not offered")
    page.locator("#new-chat").click()
    page.select_option("#model", "grok-3-mini")
    send(page, "Why is the sky blue? Explain briefly.")
    reply = last_reply(page)
    expect(reply.locator("details.reasoning")).to_be_visible()
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
    details = reply.locator("details.reasoning")
    expect(details.locator(".reasoning-body")).to_be_hidden()  # collapsed by default
    details.locator("summary").click()
    expect(details.locator(".reasoning-body")).to_be_visible()
    assert details.locator(".reasoning-body").inner_text().startswith("Let me think.")
    expect(reply.locator(".usage")).to_have_text(USAGE)
    page.screenshot(path=str(screenshots / "reasoning-light.png"))
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(screenshots / "reasoning-dark.png"))
    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]


def test_delete_conversation(page: Page, grokweb_server: LiveServer) -> None:
    sign_in(page, grokweb_server)
    send(page, "A chat to delete. [[tokens=10]]")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=30_000)
    expect(page).to_have_url(UUID_URL)
    items = page.locator("#conv-list .conv-item")
    count = items.count()
    deleted = page.url.rstrip("/").rsplit("/", 1)[-1]
    active = page.locator("#conv-list .conv-item.active")
    active.hover()
    active.locator("button.conv-menu-btn").click()
    with page.expect_response(lambda r: r.request.method == "DELETE", timeout=15_000) as gone:
        page.get_by_role("menuitem", name="Delete").click()  # no native confirm: a few seconds to undo instead
        expect(items).to_have_count(count - 1)
        expect(page).to_have_url(f"{grokweb_server.url}/")  # the open chat was deleted: back to a new one
        expect(page.locator("#empty-state")).to_be_visible()
        expect(page.locator("#toast")).to_contain_text("Deleted")
    assert gone.value.status == 204
    assert page.request.get(f"/api/conversations/{deleted}/").status == 404
    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]
