"""The pages around the chat, for everyone: axe-core finds nothing serious on them.

Every staff page (and sign-in and My usage) is checked with data in it, in the light and
the dark theme: no serious or critical axe-core violation.
"""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .axe import describe, violations
from .conftest import LiveServer, sign_in
from .test_accounts_ui import SEED_PEOPLE
from .test_usage_pages import SEED, _shell

pytestmark = pytest.mark.e2e

SEED_STAFF = """
from datetime import timedelta
from django.utils import timezone
from chat.models import Provider
from gateways.models import ListedModel
from accounts import invites
from accounts.models import Invite
Provider.objects.get_or_create(name="Spare gateway (off)", defaults={
    "kind": "openai", "base_url": "http://127.0.0.1:9/v1", "enabled": False})
emulator = Provider.objects.get(kind="emulator")
for upstream_id in ("grok-next-preview", "grok-vision-beta"):
    ListedModel.objects.get_or_create(provider=emulator, upstream_id=upstream_id)
soon = timezone.now() + timedelta(days=7)
if not Invite.objects.filter(note="a11y").exists():
    invites.create(created_by=None, expires_at=soon, email="new.hire@example.com", note="a11y")
    gone, _ = invites.create(created_by=None, expires_at=soon, note="a11y", max_uses=5)
    gone.revoked = True
    gone.save()
    invites.create(created_by=None, expires_at=timezone.now() - timedelta(days=1), note="a11y")
print("seeded staff pages")
"""

# page name -> URL (the usage report with one user drilled into).
STAFF_PAGES = {
    "people": "/team/people/",
    "invites": "/team/invites/",
    "providers": "/gateways/providers/",
    "provider-form": "/gateways/providers/add/",
    "routes": "/gateways/routes/",
    "health": "/gateways/health/",
    "usage-report": "/usage/report/?preset=month&user=ada",
}
PAGES = {**STAFF_PAGES, "my-usage": "/usage/me/"}


@pytest.fixture(scope="module")
def seeded(grokweb_server: LiveServer) -> LiveServer:
    assert "seeded" in _shell(grokweb_server, SEED)
    grokweb_server.manage("shell", "-c", SEED_PEOPLE)
    assert "seeded staff pages" in grokweb_server.manage("shell", "-c", SEED_STAFF)
    return grokweb_server


def _no_serious_violations(page: Page) -> None:
    """Checked with every disclosure open (per-row budget forms, route lists), in both themes."""
    page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
    report = []
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        found = violations(page)
        if found:
            report.append(f"{page.url} ({scheme}):\n{describe(found)}")
    page.emulate_media(color_scheme="light")
    assert not report, "\n".join(report)


def test_sign_in_has_no_serious_accessibility_violations(page: Page, grokweb_server: LiveServer) -> None:
    page.goto("/accounts/login/")
    expect(page.locator("#id_username")).to_be_visible()
    _no_serious_violations(page)
    page.fill("#id_username", "nobody")
    page.fill("#id_password", "wrong password")
    page.click("button[type=submit]")
    expect(page.locator(".alert-error, .errorlist").first).to_be_visible()
    _no_serious_violations(page)


@pytest.mark.parametrize("name", PAGES)
def test_page_has_no_serious_accessibility_violations(page: Page, seeded: LiveServer, screenshots,  # type: ignore[no-untyped-def]
                                                      name: str) -> None:
    sign_in(page, seeded)
    answer = page.goto(PAGES[name])
    assert answer is not None and answer.status == 200
    page.screenshot(path=str(screenshots / f"a11y-{name}.png"), full_page=True)
    _no_serious_violations(page)
    assert not page.js_errors  # type: ignore[attr-defined]
