"""Team accounts in the browser: sign-up, invite acceptance, the People page, the budget warning.

Run apart from the async suite:

    .venv/bin/pytest tests/e2e/test_accounts_ui.py -m e2e -p no:asyncio -p no:django
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import LiveServer, sign_in

pytestmark = pytest.mark.e2e
SECRET = "a long secret 42!"


def shell(server: LiveServer, code: str) -> str:
    return server.manage("shell", "-c", code).strip()


def sign_in_as(page: Page, server: LiveServer, username: str, password: str = SECRET) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")


def both_schemes(page: Page, path) -> None:  # type: ignore[no-untyped-def]
    page.emulate_media(color_scheme="light")
    page.screenshot(path=str(path), full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(path).replace(".png", "-dark.png"), full_page=True)
    page.emulate_media(color_scheme="light")


def test_sign_up_in_open_mode(page: Page, grokweb_server: LiveServer, screenshots) -> None:  # type: ignore[no-untyped-def]
    shell(grokweb_server, "from accounts.models import SiteSettings as S; s = S.load(); "
                          "s.signup_mode = 'open'; s.allowed_domains = 'example.com'; s.save()")
    page.goto("/accounts/login/")
    page.click("text=Create an account")
    expect(page.locator("h1")).to_have_text("Create your account")
    both_schemes(page, screenshots / "signup.png")
    page.fill("#id_username", "newbie")
    page.fill("#id_email", "newbie@elsewhere.org")
    page.fill("#id_password1", SECRET)
    page.fill("#id_password2", SECRET + "x")
    page.click("button[type=submit]")
    expect(page.locator(".errorlist").first).to_contain_text("limited to addresses at example.com")
    both_schemes(page, screenshots / "signup-errors.png")
    page.fill("#id_email", "newbie@example.com")
    page.fill("#id_password1", SECRET)
    page.fill("#id_password2", SECRET)
    page.click("button[type=submit]")
    page.wait_for_url(f"{grokweb_server.url}/")
    expect(page.locator(".user-name")).to_have_text("newbie")
    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]


def test_sign_up_in_approval_mode_waits_for_an_admin(page: Page, grokweb_server: LiveServer, screenshots) -> None:  # type: ignore[no-untyped-def]
    shell(grokweb_server, "from accounts.models import SiteSettings as S; s = S.load(); "
                          "s.signup_mode = 'approval'; s.allowed_domains = ''; s.save()")
    page.goto("/accounts/signup/")
    page.fill("#id_username", "waiting")
    page.fill("#id_email", "waiting@example.net")
    page.fill("#id_password1", SECRET)
    page.fill("#id_password2", SECRET)
    page.click("button[type=submit]")
    expect(page.locator(".auth-card")).to_contain_text("waiting for an administrator")
    both_schemes(page, screenshots / "signup-pending.png")
    page.goto("/accounts/login/")
    page.fill("#id_username", "waiting")
    page.fill("#id_password", SECRET)
    page.click("button[type=submit]")
    expect(page.locator(".auth-card")).to_contain_text("waiting for an administrator's approval")
    shell(grokweb_server, "from accounts.models import SiteSettings as S; s = S.load(); "
                          "s.signup_mode = 'open'; s.allowed_domains = 'example.com'; s.save()")


def test_invite_acceptance(page: Page, grokweb_server: LiveServer, screenshots) -> None:  # type: ignore[no-untyped-def]
    token = shell(grokweb_server, (
        "from datetime import timedelta; from django.utils import timezone; "
        "from django.contrib.auth.models import Group; from accounts import invites; "
        "g, _ = Group.objects.get_or_create(name='Research'); "
        "_, t = invites.create(created_by=None, expires_at=timezone.now() + timedelta(days=7), "
        "email='invitee@example.com', group=g); print(t)"
    )).splitlines()[-1]
    page.goto(f"/accounts/invite/{token}/")
    expect(page.locator("h1")).to_have_text("You're invited to Grokweb")
    expect(page.locator("#id_email")).to_have_value("invitee@example.com")
    both_schemes(page, screenshots / "invite-accept.png")
    page.fill("#id_username", "invitee")
    page.fill("#id_password1", SECRET)
    page.fill("#id_password2", SECRET)
    page.click("button[type=submit]")
    page.wait_for_url(f"{grokweb_server.url}/")
    # Leave the chat page before dropping the session: a request it still has in flight would
    # come back 401 and send the tab to the sign-in page (as it should), racing the next goto.
    page.goto("about:blank")
    page.context.clear_cookies()
    page.goto(f"/accounts/invite/{token}/")
    expect(page.locator("h1")).to_have_text("This invite has already been used")
    both_schemes(page, screenshots / "invite-used.png")
    page.goto(f"/accounts/invite/{token[:-3]}abc/")
    expect(page.locator("h1")).to_have_text("This invite link is not valid")


SEED_PEOPLE = """
from decimal import Decimal
from django.contrib.auth.models import Group
from accounts.models import GroupPolicy, User
from usage.models import UsageRecord
T = 10_000_000_000
def person(name, **extra):
    user, _ = User.objects.get_or_create(username=name, defaults={'email': f'{name}@example.com', **extra})
    return user
writers, _ = Group.objects.get_or_create(name='Writers')
GroupPolicy.objects.get_or_create(group=writers, defaults={'budget_usd': Decimal('20')})
ana = person('ana.lopez'); ana.groups.add(writers)
ben = person('ben.okafor', budget_usd=Decimal('5')); ben.groups.add(writers)
person('chloe.pending', status='pending')
person('dmitri.off', status='disabled')
for user, ticks, tokens in ((ana, 9 * T, 310_000), (ben, int(4.3 * T), 120_500)):
    UsageRecord.objects.create(user=user, model_slug='grok-4', price_input=0, price_cached_input=0,
                               price_output=0, cost_ticks=ticks, total_tokens=tokens)
"""


def test_the_people_page(page: Page, grokweb_server: LiveServer, screenshots) -> None:  # type: ignore[no-untyped-def]
    shell(grokweb_server, SEED_PEOPLE)
    sign_in(page, grokweb_server)
    page.goto("/team/people/")
    expect(page.locator("h1")).to_have_text("People")
    row = page.locator("tr", has_text="chloe.pending")
    expect(row.locator(".badge-warn")).to_have_text("pending")
    both_schemes(page, screenshots / "people.png")
    row.locator("button", has_text="Approve").click()
    expect(page.locator(".flash")).to_contain_text("chloe.pending is active (approved)")
    expect(page.locator("tr", has_text="chloe.pending").locator(".badge-ok")).to_have_text("active")
    page.goto("/team/invites/")
    page.fill("#id_email", "someone@example.com")
    page.click("text=Create invite link")
    expect(page.locator("#invite-link")).to_have_value(re.compile(r"/accounts/invite/[\w-]+/$"))
    both_schemes(page, screenshots / "invites.png")
    assert not page.js_errors, page.js_errors  # type: ignore[attr-defined]


def test_the_budget_warning_and_refusal_in_the_chat(page: Page, grokweb_server: LiveServer, screenshots) -> None:  # type: ignore[no-untyped-def]
    shell(grokweb_server, (
        "from decimal import Decimal; from accounts.models import User; from usage.models import UsageRecord; "
        f"u = User.objects.create_user('budgeted', 'b@example.com', {SECRET!r}, budget_usd=Decimal('2')); "
        "UsageRecord.objects.create(user=u, model_slug='grok-4', price_input=0, price_cached_input=0, "
        "price_output=0, cost_ticks=17_000_000_000, total_tokens=1000)"
    ))
    sign_in_as(page, grokweb_server, "budgeted")
    line = page.locator("#budget-left")
    expect(line).to_have_text("85% of your monthly budget used · $0.30 left this month")
    expect(line).to_have_class(re.compile("is-warning"))
    page.screenshot(path=str(screenshots / "budget-warning.png"))
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(screenshots / "budget-warning-dark.png"))
    page.emulate_media(color_scheme="light")

    shell(grokweb_server, (
        "from accounts.models import User; from usage.models import UsageRecord; "
        "UsageRecord.objects.create(user=User.objects.get(username='budgeted'), model_slug='grok-4', "
        "price_input=0, price_cached_input=0, price_output=0, cost_ticks=3_000_000_000, total_tokens=10)"
    ))
    page.fill("#input", "Hello?")
    page.press("#input", "Enter")
    notice = page.locator("#composer-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("monthly budget is used up")
    expect(page.locator("#input")).to_have_value("Hello?")  # nothing typed is lost
    expect(line).to_have_text(re.compile(r"^Your monthly budget is used up · starts afresh on 1 \w{3}$"))
    page.screenshot(path=str(screenshots / "budget-exceeded.png"))
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(screenshots / "budget-exceeded-dark.png"))
    page.set_viewport_size({"width": 390, "height": 800})
    page.emulate_media(color_scheme="light")
    expect(line).to_be_visible()  # also on phones, where the keyboard hint is hidden
    page.screenshot(path=str(screenshots / "budget-exceeded-phone.png"))


def test_a_disabled_person_is_taken_out_of_the_chat_at_once(page: Page, browser, grokweb_server: LiveServer,  # type: ignore[no-untyped-def]
                                                            screenshots) -> None:
    shell(grokweb_server, "from accounts.models import User; "
                          f"User.objects.create_user('leaving', 'leaving@example.com', {SECRET!r})")
    sign_in_as(page, grokweb_server, "leaving")
    expect(page.locator(".user-name")).to_have_text("leaving")
    admin = browser.new_context(base_url=grokweb_server.url)
    try:
        staff = admin.new_page()
        sign_in(staff, grokweb_server)
        staff.goto("/team/people/")
        staff.locator("tr", has_text="leaving@example.com").locator("button", has_text="Disable").click()
        expect(staff.locator(".flash")).to_contain_text("leaving is disabled")
    finally:
        admin.close()
    page.wait_for_url(re.compile(r"/accounts/login/"))  # the open tab's socket closed with 4403
    expect(page.locator(".alert-error")).to_contain_text("has been disabled")
    page.screenshot(path=str(screenshots / "disabled-signed-out.png"))
