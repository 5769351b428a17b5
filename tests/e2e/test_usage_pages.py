"""The usage pages in a browser: the staff report with data in it, "My usage", and the chat header's totals.

Usage comes from chatting through the emulator and from ledger rows written
with `manage.py shell` in the server's own environment (same database).
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import LiveServer, sign_in

pytestmark = pytest.mark.e2e

SEED = r"""
import datetime as dt, random
from django.utils import timezone
from accounts.models import User
from gateways.models import Model
from usage.models import UsageRecord
from usage.ledger import ledger_row
from gateways.wire.usage import NormalizedUsage
from usage import rollups
from usage.aggregates import day_start

rng = random.Random(5)
people = [User.objects.get_or_create(username=name, defaults={"email": f"{name}@example.com"})[0]
          for name in ("ada", "grace", "linus", "margaret", "ken", "barbara")]
models = list(Model.objects.filter(slug__in=["grok-4-1-fast-reasoning", "grok-4-0709", "grok-code-fast-1",
                                             "grok-3-mini", "grok-4.20-0309-reasoning"]))
today = timezone.localdate()
weights = [6, 4, 3, 2, 1, 1]
for n in range(400):
    who = rng.choices(people, weights)[0]
    model = rng.choice(models)
    prompt = rng.randint(200, 9000)
    cached = rng.randint(0, prompt) if rng.random() < 0.6 else 0
    visible, reasoning = rng.randint(50, 1500), rng.choice([0, rng.randint(100, 3000)])
    estimated, odd = rng.random() < 0.05, n % 97 == 1  # a few stopped calls, a few that do not reconcile
    usage = NormalizedUsage(prompt, cached, 0, visible, reasoning, visible + reasoning, prompt + visible + reasoning,
                            not odd, "estimate" if estimated else "C" if odd else "A", estimated)
    row = ledger_row(who.pk, model, usage, purpose="title" if n % 9 == 0 else "chat",
                     outcome="cancelled" if estimated else "complete")
    if rng.random() < 0.5:
        UsageRecord.objects.filter(pk=row.pk).update(stated_cost_ticks=row.cost_ticks + rng.choice([0, 0, 0, 1]))
    day = today - dt.timedelta(days=min(rng.randint(0, 21), today.day - 1))
    UsageRecord.objects.filter(pk=row.pk).update(created_at=day_start(day) + dt.timedelta(hours=rng.randint(8, 20)))
rollups.backfill(today.replace(day=1), today)
print("seeded", UsageRecord.objects.count())
"""


def _shell(server: LiveServer, code: str) -> str:
    """`manage.py shell -c code` against the server's database, in the server's environment."""
    return server.manage("shell", "-c", code)


def test_chat_header_shows_the_conversations_usage(page: Page, grokweb_server: LiveServer, screenshots) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, grokweb_server)
    page.locator("#input").fill("How much does this cost? [[tokens=60]]")
    page.locator("#input").press("Enter")
    reply = page.locator("#thread article.msg-assistant").last
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
    usage = page.locator("#conv-usage")
    expect(usage).to_be_visible()
    expect(usage).to_have_text(re.compile(r"^[\d,]+ tokens · \$\d+\.\d+$"))
    # The title has the room it needs beside the usage, the model picker and its badges (1280 px).
    title = page.locator("#conv-title")
    expect(title).not_to_have_text("New chat", timeout=30_000)
    assert title.evaluate("e => e.scrollWidth <= e.clientWidth"), title.inner_text()
    page.locator(".topbar").screenshot(path=str(screenshots / "usage-chat-header.png"))


def test_the_report_with_data_and_my_usage(page: Page, grokweb_server: LiveServer, screenshots) -> None:  # type: ignore[no-untyped-def]
    assert "seeded" in _shell(grokweb_server, SEED)
    sign_in(page, grokweb_server)
    page.goto("/usage/report/?preset=month")
    expect(page.locator("h1")).to_have_text("Usage report")
    calls = page.locator('[data-stat="requests"] .value')
    assert int(calls.inner_text().replace(",", "")) >= 400
    for name in ("ada", "grace", "linus", "margaret", "ken", "barbara"):
        expect(page.locator(f'#by-user tbody tr[data-key="{name}"]')).to_have_count(1)
    expect(page.locator(".usage-chart svg")).to_have_count(2)
    expect(page.locator(".usage-note")).to_contain_text("do not reconcile")
    assert page.locator(".usage-chart svg rect").count() > 20
    page.screenshot(path=str(screenshots / "usage-report.png"), full_page=True)
    page.screenshot(path=str(screenshots / "usage-report-top.png"))  # totals and charts at full size

    # The CSV of the user table has the page's numbers.
    href = page.locator("#by-user").get_by_role("link", name="Download CSV").get_attribute("href")
    csv_text = page.request.get(href).text()
    first_row = csv_text.splitlines()[1].split(",")
    shown_first = page.locator("#by-user tbody tr").first
    assert first_row[1] == shown_first.locator("th a").inner_text().strip()
    assert first_row[8] == shown_first.locator('[data-col="cost_usd"]').get_attribute("data-usd")

    # Drill down into one user; then the dark theme.
    shown_first.locator("th a").click()
    expect(page.locator("#drill h2")).to_contain_text("by model")
    page.emulate_media(color_scheme="dark")
    page.goto("/usage/report/?preset=7d")
    page.screenshot(path=str(screenshots / "usage-report-dark.png"), full_page=True)
    page.emulate_media(color_scheme="light")

    # A personal budget of $0.001: My usage shows what is spent of it.
    _shell(grokweb_server, "from decimal import Decimal; from accounts.models import User; "
                           f"User.objects.filter(username={grokweb_server.username!r})"
                           ".update(budget_usd=Decimal('0.001'))")
    page.goto("/usage/me/")
    expect(page.locator("h1")).to_have_text("My usage")
    expect(page.locator(".usage-budget [role=meter]")).to_be_visible()
    expect(page.locator(".usage-budget")).to_contain_text("of $0.001")
    expect(page.locator("#by-model tbody tr").first).not_to_have_class("empty")
    page.screenshot(path=str(screenshots / "usage-me.png"), full_page=True)
    # The server and its user are shared by the whole browser suite: a used-up budget left behind
    # refused every later send (the waiting-notice test's reply never started).
    _shell(grokweb_server, "from accounts.models import User; "
                           f"User.objects.filter(username={grokweb_server.username!r}).update(budget_usd=None)")
    assert not [e for e in page.js_errors if "favicon" not in e]  # type: ignore[attr-defined]
