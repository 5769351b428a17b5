"""The pages around the chat, for everyone: axe-core finds nothing serious, and a phone can use them.

Every staff page (and sign-in and My usage) is checked with data in it, in the light and
the dark theme: no serious or critical axe-core violation. At 390 px wide, the page does
not scroll sideways (wide tables scroll inside their card) and the top navigation folds
into a menu button.
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
from gateways.models import Provider
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
from accounts import tokens
from accounts.models import ApiToken, User
staff = User.objects.get(username="e2e-user")
if not ApiToken.objects.filter(user=staff).exists():
    tokens.create(staff, "Deploy script")
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
PAGES = {**STAFF_PAGES, "my-usage": "/usage/me/", "api-tokens": "/accounts/tokens/"}
PHONE = {"width": 390, "height": 844}


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


@pytest.mark.parametrize("name", PAGES)
def test_page_fits_a_phone(page: Page, seeded: LiveServer, screenshots, name: str) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, seeded)
    page.set_viewport_size(PHONE)
    page.goto(PAGES[name])
    page.screenshot(path=str(screenshots / f"phone-{name}.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} is {width} px wide on a {PHONE['width']} px screen"
    _no_serious_violations(page)  # tables that scroll in their card can be reached by keyboard
    assert not page.js_errors  # type: ignore[attr-defined]


def test_on_a_phone_the_navigation_folds_behind_a_menu_button(page: Page, seeded: LiveServer,  # type: ignore[no-untyped-def]
                                                              screenshots) -> None:
    sign_in(page, seeded)
    page.set_viewport_size(PHONE)
    page.goto("/team/people/")
    header = page.locator("header.page-nav")
    menu = header.get_by_role("button", name="Menu")
    report = header.get_by_role("link", name="Usage report")
    expect(menu).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(report).to_be_hidden()
    box = header.bounding_box()
    assert box is not None and box["height"] <= 64, f"the closed header is {box} on a phone"
    expect(page.get_by_role("heading", level=1)).to_be_in_viewport()

    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(report).to_be_visible()
    expect(header.get_by_role("link", name="People")).to_have_attribute("aria-current", "page")
    expect(header.get_by_role("button", name="Sign out")).to_be_visible()
    page.screenshot(path=str(screenshots / "phone-menu-open.png"))
    page.keyboard.press("Escape")
    expect(report).to_be_hidden()
    expect(menu).to_be_focused()

    menu.click()
    report.click()
    page.wait_for_url("**/usage/report/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Usage report")
    expect(header.get_by_role("link", name="Usage report")).to_be_hidden()  # folded again on the new page


def test_on_a_wide_screen_the_navigation_is_all_there(page: Page, seeded: LiveServer) -> None:
    sign_in(page, seeded)
    page.goto("/usage/report/")
    header = page.locator("header.page-nav")
    expect(header.get_by_role("button", name="Menu")).to_be_hidden()
    for label in ("Chat", "My usage", "API tokens", "People", "Invites", "Providers", "Gateway health",
                  "Usage report", "Admin"):
        expect(header.get_by_role("link", name=label, exact=True)).to_be_visible()
    expect(header.get_by_role("link", name="Usage report")).to_have_attribute("aria-current", "page")
