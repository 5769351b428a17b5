"""Long conversations, branches, the sidebar, export, share, keyboard and axe (issue 14).

Behaviour only: timings are measured in bench/ui.py, never asserted here.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .conftest import ROOT, LiveServer, sign_in

pytestmark = pytest.mark.e2e

UUID_URL = re.compile(r"/c/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/$")
FRAME_BOUND = 256 * 1024
WORDS = ("The lighthouse keeper logged every ship that passed the point, noting the tide, "
         "the wind and the cargo, and the logbook grew thicker each season. ") * 12  # ~1.8 KB a message

SEED = """
import uuid
from django.contrib.auth import get_user_model
from chat.models import Conversation, Message
owner = get_user_model().objects.get(username={user!r})
conv = Conversation.objects.create(owner=owner, title={title!r})
rows, parent = [], None
for i in range({count}):
    role = 'user' if i % 2 == 0 else 'assistant'
    text = {text!r} + ' [message ' + str(i) + ']'
    if i == {count} - 1 and {huge}:
        text = 'x' * {huge} + ' [the end]'
    m = Message(id=uuid.uuid4(), conversation=conv, parent_id=parent, role=role, content=text,
                status='complete', model_slug='' if role == 'user' else 'grok-4-fast-non-reasoning')
    rows.append(m)
    parent = m.id
Message.objects.bulk_create(rows, batch_size=1000)
conv.current_leaf_id = parent
conv.save()
print(conv.id)
"""


def seed(server: LiveServer, count: int, title: str, text: str = WORDS, huge: int = 0) -> str:
    out = server.manage("shell", "-c", SEED.format(user=server.username, title=title, count=count, text=text,
                                                   huge=huge))
    return out.strip().splitlines()[-1]


def last_reply(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("#thread article.msg-assistant").last


def send(page: Page, text: str) -> None:
    box = page.locator("#input")
    box.fill(text)
    box.press("Enter")


def record_frames(page: Page) -> list[int]:
    """Sizes (bytes) of every websocket frame the page receives."""
    sizes: list[int] = []

    def on_socket(ws):  # type: ignore[no-untyped-def]
        ws.on("framereceived", lambda payload: sizes.append(len(payload.encode() if isinstance(payload, str)
                                                                 else payload)))

    page.on("websocket", on_socket)
    return sizes


def axe_violations(page: Page) -> list[dict]:  # type: ignore[type-arg]
    """axe-core's serious and critical violations on the page as it is now."""
    # Evaluated, not added as a <script>: the Content-Security-Policy refuses inline scripts.
    page.evaluate((ROOT / "static" / "vendor" / "axe.min.js").read_text(encoding="utf-8"))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, { resultTypes: ['violations'] });
        return r.violations.map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')) }));
    }""")
    return [v for v in result if v["impact"] in ("serious", "critical")]


def test_ten_thousand_messages_open_with_the_newest_visible_and_no_large_frame(page: Page, grokweb_server: LiveServer,
                                                                               screenshots: Path) -> None:
    conversation = seed(grokweb_server, 10_000, "Ten thousand turns")
    sizes = record_frames(page)
    sign_in(page, grokweb_server)
    page.goto(f"/c/{conversation}/")
    newest = page.locator("#thread article.msg").last
    expect(newest).to_contain_text("[message 9999]")
    expect(newest).to_be_in_viewport()
    shown = page.locator("#thread article.msg").count()
    assert 0 < shown < 200  # the latest page, not ten thousand
    page.screenshot(path=str(screenshots / "long-chat.png"))

    # Scrolling up brings the older pages, in order, without jumping away from what was read.
    settled = "() => !document.querySelector('#older.loading')"
    for _ in range(3):
        page.wait_for_function(settled)
        oldest_id = page.locator("#thread article.msg").first.get_attribute("data-id")
        oldest = page.locator(f'#thread article[data-id="{oldest_id}"]')
        page.locator("#messages").evaluate("el => el.scrollTop = 0")
        page.wait_for_function(f"() => document.querySelectorAll('#thread article.msg').length > {shown}")
        page.wait_for_function(settled)
        shown = page.locator("#thread article.msg").count()
        # What was the oldest message is still on screen: the page did not jump to the new top.
        expect(oldest).to_be_in_viewport()
    numbers = [int(n) for n in re.findall(r"\[message (\d+)\]", page.locator("#thread").text_content() or "")]
    assert numbers == sorted(numbers) and numbers[-1] == 9999 and len(numbers) == len(set(numbers))
    assert sizes and max(sizes) <= FRAME_BOUND
    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]


def test_the_newest_message_shows_before_the_socket_answers(page: Page, grokweb_server: LiveServer,
                                                          screenshots: Path) -> None:
    """The chat page carries its latest page: it paints with the socket's frames held back,
    and the snapshot, once let through, takes over (older pages load, sending works)."""
    conversation = seed(grokweb_server, 1_000, "Before the socket")
    sign_in(page, grokweb_server)
    held: list[str | bytes] = []
    routes: list = []  # type: ignore[type-arg]

    def hold(ws):  # type: ignore[no-untyped-def]
        server = ws.connect_to_server()
        routes.append(ws)
        server.on_message(lambda message: ws.send(message) if routes[-1] is None else held.append(message))

    page.route_web_socket(re.compile(r"/ws/chat/$"), hold)
    page.goto(f"/c/{conversation}/")
    newest = page.locator("#thread article.msg").last
    expect(newest).to_contain_text("[message 999]")
    expect(newest).to_be_in_viewport()
    expect(newest.locator(".content p").first).to_be_visible()  # rendered as markdown, sanitized
    expect(page.locator("#conv-title")).to_have_text("Before the socket")
    expect(page.locator("#thread")).to_have_attribute("aria-busy", "true")  # the snapshot is held back
    shown = page.locator("#thread article.msg").count()
    assert 0 < shown <= 30
    page.screenshot(path=str(screenshots / "open-before-socket.png"))
    newest.locator(".content p").first.evaluate("p => { p.dataset.kept = '1'; }")

    # Let the socket through: the snapshot repeats the page, nothing on screen is redone.
    ws = routes[-1]
    routes.append(None)
    for message in held:
        ws.send(message)
    expect(page.locator("#thread")).to_have_attribute("aria-busy", "false")
    page.locator("#messages").evaluate("el => el.scrollTop = 0")
    page.wait_for_function(f"() => document.querySelectorAll('#thread article.msg').length > {shown}")
    expect(newest.locator(".content p[data-kept]")).to_have_count(1)
    numbers = [int(n) for n in re.findall(r"\[message (\d+)\]", page.locator("#thread").text_content() or "")]
    assert numbers == list(range(numbers[0], 1000))
    send(page, "And one more thing. [[tokens=20]]")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=30_000)
    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]


def test_a_reply_too_large_for_a_frame_is_cut_and_said_so(page: Page, grokweb_server: LiveServer) -> None:
    conversation = seed(grokweb_server, 300, "Huge", huge=400_000)
    sizes = record_frames(page)
    sign_in(page, grokweb_server)
    page.goto(f"/c/{conversation}/")
    # Cut and said so in the page's HTML (the latest page it carries), then in the snapshot.
    expect(last_reply(page).locator(".notice")).to_contain_text("too long to show here in full")
    expect(page.locator("#thread")).to_have_attribute("aria-busy", "false")  # the snapshot is in
    expect(last_reply(page).locator(".notice")).to_contain_text("too long to show here in full")
    assert max(sizes) <= FRAME_BOUND
    # The export has it all.
    response = page.request.get(f"/api/conversations/{conversation}/export?format=md")
    assert response.ok and "[the end]" in response.text()


def test_edit_and_branch_switching_persist_over_reload(page: Page, grokweb_server: LiveServer,
                                                      screenshots: Path) -> None:
    sign_in(page, grokweb_server)
    send(page, "Tell me about lighthouses.")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=30_000)
    expect(page).to_have_url(UUID_URL)

    # Edit the message inline: Esc cancels, Enter sends a new version.
    question = page.locator("#thread article.msg-user").first
    question.hover()
    question.get_by_role("button", name="Edit message").click()
    box = question.locator("textarea")
    expect(box).to_be_focused()
    box.fill("Nothing, never mind")
    box.press("Escape")
    expect(question.locator("textarea")).to_have_count(0)
    expect(question).to_contain_text("Tell me about lighthouses.")
    question.get_by_role("button", name="Edit message").click()
    question.locator("textarea").fill("Tell me about canals instead.")
    question.locator("textarea").press("Enter")
    expect(page.locator("#thread article.msg-user").first).to_contain_text("canals instead")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=30_000)
    nav = page.locator("#thread article.msg-user").first.locator(".sib-nav")
    expect(nav.locator(".sib-label")).to_have_text("2/2")

    # Regenerate the answer: the reply gets versions too.
    last_reply(page).get_by_role("button", name="Regenerate", exact=True).click()
    expect(last_reply(page).locator(".sib-label")).to_have_text("2/2", timeout=30_000)
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=30_000)
    page.screenshot(path=str(screenshots / "branches.png"))

    # Back to the first version of the question; the server remembers it.
    nav.get_by_role("button", name="Previous version").click()
    expect(page.locator("#thread article.msg-user").first).to_contain_text("Tell me about lighthouses.")
    expect(page.locator("#thread article.msg-user").first.locator(".sib-label")).to_have_text("1/2")
    expect(page.locator("#thread article.msg")).to_have_count(2)
    page.reload()
    expect(page.locator("#thread article.msg-user").first).to_contain_text("Tell me about lighthouses.")
    expect(page.locator("#thread article.msg-user").first.locator(".sib-label")).to_have_text("1/2")

    # And forward again: the canal branch comes back with its newest answer.
    page.locator("#thread article.msg-user").first.get_by_role("button", name="Next version").click()
    expect(page.locator("#thread article.msg-user").first).to_contain_text("canals instead")
    expect(last_reply(page).locator(".sib-label")).to_have_text("2/2")
    page.reload()
    expect(page.locator("#thread article.msg-user").first).to_contain_text("canals instead")
    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]


def open_menu(page: Page, title: str):  # type: ignore[no-untyped-def]
    item = page.locator("#conv-list .conv-item", has_text=title)
    item.hover()
    item.locator(".conv-menu-btn").click()
    return page.get_by_role("menu")


def test_rename_pin_archive_and_delete_reach_a_second_tab(context, grokweb_server: LiveServer,  # type: ignore[no-untyped-def]
                                                         screenshots: Path) -> None:
    first = seed(grokweb_server, 2, "Sync me")
    seed(grokweb_server, 2, "Another chat")
    a = context.new_page()
    a.set_default_timeout(15_000)
    sign_in(a, grokweb_server)
    b = context.new_page()
    b.set_default_timeout(15_000)
    b.goto("/")
    row_b = b.locator(f'#conv-list .conv-item[data-id="{first}"]')
    expect(row_b).to_contain_text("Sync me")
    b.wait_for_function("() => document.querySelector('#conn-banner').hidden")

    # Rename inline in tab A.
    open_menu(a, "Sync me").get_by_role("menuitem", name="Rename").click()
    field = a.locator(".conv-rename")
    field.fill("Renamed in A")
    field.press("Enter")
    expect(row_b).to_contain_text("Renamed in A")

    # Pin: first in both tabs, under "Pinned".
    open_menu(a, "Renamed in A").get_by_role("menuitem", name="Pin to top").click()
    expect(b.locator("#conv-list .conv-group-label").first).to_have_text("Pinned")
    expect(b.locator("#conv-list .conv-item").first).to_have_attribute("data-id", first)
    a.screenshot(path=str(screenshots / "sidebar-pinned.png"))

    # Archive: gone from both lists, in the Archived view, restorable.
    open_menu(a, "Renamed in A").get_by_role("menuitem", name="Archive").click()
    expect(row_b).to_have_count(0)
    expect(a.locator(f'#conv-list .conv-item[data-id="{first}"]')).to_have_count(0)
    b.locator("#show-archived").click()
    expect(row_b).to_be_visible()
    open_menu(b, "Renamed in A").get_by_role("menuitem", name="Restore from archive").click()
    expect(row_b).to_have_count(0)
    expect(a.locator(f'#conv-list .conv-item[data-id="{first}"]')).to_be_visible()
    b.locator("#show-archived").click()

    # Delete with undo: nothing is lost when undone, gone everywhere when not.
    open_menu(a, "Renamed in A").get_by_role("menuitem", name="Delete").click()
    expect(a.locator("#toast")).to_contain_text("Deleted")
    a.locator("#toast").get_by_role("button", name="Undo").click()
    expect(a.locator(f'#conv-list .conv-item[data-id="{first}"]')).to_be_visible()
    open_menu(a, "Renamed in A").get_by_role("menuitem", name="Delete").click()
    expect(row_b).to_have_count(0, timeout=15_000)  # after the undo window
    assert a.request.get(f"/api/conversations/{first}/").status == 404


def test_export_share_and_keyboard(page: Page, browser, grokweb_server: LiveServer,  # type: ignore[no-untyped-def]
                                   screenshots: Path) -> None:
    conversation = seed(grokweb_server, 6, "Share and export")
    sign_in(page, grokweb_server)
    page.goto(f"/c/{conversation}/")
    expect(page.locator("#thread article.msg")).to_have_count(6)

    with page.expect_download() as download:
        open_menu(page, "Share and export").get_by_role("menuitem", name="Export as Markdown").click()
    text = Path(download.value.path()).read_text()
    assert text.startswith("# Share and export") and "[message 5]" in text
    with page.expect_download() as download:
        page.locator("#user-menu summary").click()
        page.locator("#export-all").click()
    everything = json.loads(Path(download.value.path()).read_text())
    assert any(c["id"] == conversation for c in everything["conversations"])

    # A read-only link, readable without an account, without usage; revocable.
    open_menu(page, "Share and export").get_by_role("menuitem", name="Share link…").click()
    dialog = page.locator("#share-dialog")
    dialog.get_by_role("button", name="Create link").click()
    link = dialog.locator("#share-url")
    expect(link).to_have_value(re.compile(r"/s/[A-Za-z0-9_-]{20,}/$"))
    url = link.input_value()
    page.screenshot(path=str(screenshots / "share-dialog.png"))
    stranger = browser.new_context()
    try:
        shared = stranger.new_page()
        shared.goto(url)
        expect(shared.locator("h1")).to_have_text("Share and export")
        expect(shared.locator("article.msg")).to_have_count(6)
        assert "$" not in shared.locator("main").inner_text()
        shared.screenshot(path=str(screenshots / "shared-page.png"))
        dialog.get_by_role("button", name="Stop sharing").click()
        expect(dialog.locator(".share-link")).to_be_hidden()
        assert shared.goto(url).status == 404
    finally:
        stranger.close()
    dialog.get_by_role("button", name="Close").click()

    # Keyboard: ? lists the shortcuts, Ctrl+K searches, Ctrl+Shift+O starts a new chat.
    page.locator("#messages").click()
    page.keyboard.press("?")
    expect(page.locator("#shortcuts-dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#shortcuts-dialog")).to_be_hidden()
    page.keyboard.press("Control+k")
    expect(page.locator("#search")).to_be_focused()
    page.keyboard.press("Control+Shift+O")
    expect(page).to_have_url(f"{grokweb_server.url}/")
    expect(page.locator("#input")).to_be_focused()

    # The skip link is the first stop and lands in the message box.
    page.goto(f"/c/{conversation}/")
    expect(page.locator("#thread article.msg")).to_have_count(6)
    page.locator("body").press("Tab")
    expect(page.locator("#skip-to-composer")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#input")).to_be_focused()

    # Esc stops a reply; ↑ in the empty box edits the last message.
    send(page, "A long answer please [[tokens=3000]]")
    expect(last_reply(page)).to_have_attribute("data-status", "streaming")
    page.wait_for_function("() => document.querySelector('#thread article.msg-assistant:last-child .content')"
                           "?.innerText.length > 20")
    page.keyboard.press("Escape")
    expect(last_reply(page)).to_have_attribute("data-status", "cancelled", timeout=15_000)
    page.locator("#input").focus()
    page.keyboard.press("ArrowUp")
    editor = page.locator("#thread article.msg-user").last.locator("textarea")
    expect(editor).to_be_focused()
    expect(editor).to_have_value("A long answer please [[tokens=3000]]")
    page.keyboard.press("Escape")
    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]


def test_axe_finds_nothing_serious_on_the_chat_page(page: Page, grokweb_server: LiveServer) -> None:
    conversation = seed(grokweb_server, 8, "Accessible chat")
    sign_in(page, grokweb_server)
    page.goto(f"/c/{conversation}/")
    expect(page.locator("#thread article.msg")).to_have_count(8)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        assert axe_violations(page) == [], scheme
    open_menu(page, "Accessible chat")
    assert axe_violations(page) == [], "with a menu open"
    page.keyboard.press("Escape")
    page.set_viewport_size({"width": 390, "height": 844})
    assert axe_violations(page) == [], "at 390 px"


def test_streaming_keeps_finished_blocks_and_highlights_code_once(page: Page, grokweb_server: LiveServer) -> None:
    sign_in(page, grokweb_server)
    send(page, "Write at length, with some code. [[tokens=2500]]")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "streaming")
    # Once the code block is finished (highlighted) and text follows it, tag what is on screen.
    page.wait_for_function("""() => {
        const a = [...document.querySelectorAll('#thread article.msg-assistant')].pop();
        const blocks = a.querySelectorAll('.content .md-block');
        return a.querySelector('.code-block code.hljs') && blocks.length > 6 && a.dataset.status === 'streaming';
    }""", timeout=30_000)
    page.evaluate("""() => {
        const a = [...document.querySelectorAll('#thread article.msg-assistant')].pop();
        a.querySelector('.content .md-block').dataset.kept = 'first';
        const code = a.querySelector('.code-block code.hljs');
        code.dataset.kept = 'code';
        window.__codeChanges = 0;
        new MutationObserver(() => { window.__codeChanges += 1; }).observe(code, { childList: true, subtree: true });
    }""")
    expect(reply).to_have_attribute("data-status", "complete", timeout=60_000)
    # The first block and the highlighted code are the same elements, never rebuilt or highlighted again.
    expect(reply.locator('.md-block[data-kept="first"]')).to_have_count(1)
    expect(reply.locator('code.hljs[data-kept="code"]')).to_have_count(1)
    assert page.evaluate("window.__codeChanges") == 0
    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]
