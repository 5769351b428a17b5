"""Invite links: created by staff, accepted once, refused with a clear page when used, expired or tampered."""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from accounts import invites
from accounts.budgets import budget_status
from accounts.models import Invite, User

pytestmark = pytest.mark.django_db

FORM = {"username": "gina", "email": "gina@example.com", "password1": "a long secret 42!",
        "password2": "a long secret 42!"}


def _invite(staff, **extra):  # type: ignore[no-untyped-def]
    return invites.create(created_by=staff, expires_at=timezone.now() + timedelta(days=7), **extra)


def test_staff_create_an_invite_and_see_its_link_once(staff_client, make_group) -> None:
    group = make_group("writers")
    answer = staff_client.post("/team/invites/", {"email": "", "group": group.pk, "budget_usd": "2.50",
                                                   "budget_tokens": "", "max_uses": 1, "days": 3, "note": "Gina"},
                               follow=True)
    link = re.search(r'value="(http://testserver/accounts/invite/[^"/]+/)"', answer.content.decode())
    assert link, "the new link is shown"
    assert b"shown only now" in answer.content
    again = staff_client.get("/team/invites/")
    assert link.group(1).encode() not in again.content  # shown once
    invite = Invite.objects.get()
    assert invite.group == group and invite.budget_usd == Decimal("2.50") and invite.max_uses == 1
    assert invite.token_hash not in link.group(1)  # the database holds only a hash


def test_accepting_an_invite_makes_an_active_account_with_its_group_and_budget(staff, make_group) -> None:
    group = make_group("writers", usd="100")
    _, token = _invite(staff, group=group, budget_usd=Decimal("2.50"), budget_tokens=5000)
    client = Client()
    page = client.get(f"/accounts/invite/{token}/")
    assert page.status_code == 200 and b"writers" in page.content
    answer = client.post(f"/accounts/invite/{token}/", FORM)
    assert answer.status_code == 302
    user = User.objects.get(username="gina")
    assert user.status == "active" and list(user.groups.all()) == [group]
    status = budget_status(user)
    assert status is not None and status.source == "user" and status.limit_tokens == 5000
    assert client.get("/").status_code == 200  # signed in


def test_a_used_single_use_invite_is_refused(staff) -> None:
    _, token = _invite(staff)
    assert Client().post(f"/accounts/invite/{token}/", FORM).status_code == 302
    again = Client().get(f"/accounts/invite/{token}/")
    assert again.status_code == 410 and b"already been used" in again.content
    second = Client().post(f"/accounts/invite/{token}/", {**FORM, "username": "hank", "email": "hank@example.com"})
    assert second.status_code == 410 and not User.objects.filter(username="hank").exists()


def test_a_multi_use_invite_works_until_used_up(staff) -> None:
    _, token = _invite(staff, max_uses=2)
    for name in ("ivy", "jack"):
        assert Client().post(f"/accounts/invite/{token}/", {**FORM, "username": name,
                                                             "email": f"{name}@example.com"}).status_code == 302
    third = Client().post(f"/accounts/invite/{token}/", {**FORM, "username": "kim", "email": "kim@example.com"})
    assert third.status_code == 410 and User.objects.filter(username__in=["ivy", "jack"]).count() == 2


def test_an_expired_invite_is_refused(staff) -> None:
    invite, token = _invite(staff)
    Invite.objects.filter(pk=invite.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    for answer in (Client().get(f"/accounts/invite/{token}/"), Client().post(f"/accounts/invite/{token}/", FORM)):
        assert answer.status_code == 410 and b"This invite has expired" in answer.content
    assert not User.objects.filter(username="gina").exists()


@pytest.mark.parametrize("tamper", [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: t[:10],
                                    lambda t: "x" * 300])
def test_a_tampered_token_is_refused(staff, tamper) -> None:
    _, token = _invite(staff)
    answer = Client().post(f"/accounts/invite/{tamper(token)}/", FORM)
    assert answer.status_code == 404 and b"This invite link is not valid" in answer.content
    assert not User.objects.filter(username="gina").exists() and Invite.objects.get().uses == 0


def test_an_invite_bound_to_an_address_refuses_another(staff) -> None:
    _, token = _invite(staff, email="gina@example.com")
    page = Client().get(f"/accounts/invite/{token}/")
    assert b'value="gina@example.com"' in page.content
    refused = Client().post(f"/accounts/invite/{token}/", {**FORM, "email": "mallory@example.com"})
    assert refused.status_code == 200 and b"sent to a different e-mail address" in refused.content
    assert not User.objects.filter(username="gina").exists() and Invite.objects.get().uses == 0
    accepted = Client().post(f"/accounts/invite/{token}/", {**FORM, "email": "Gina@Example.com"})
    assert accepted.status_code == 302


def test_a_withdrawn_invite_is_refused(staff_client, staff) -> None:
    invite, token = _invite(staff)
    staff_client.post(f"/team/invites/{invite.pk}/revoke/")
    answer = Client().get(f"/accounts/invite/{token}/")
    assert answer.status_code == 410 and b"withdrawn" in answer.content


def test_invites_work_even_when_sign_up_is_closed_and_ignore_the_domain_list(staff, signup_mode) -> None:
    signup_mode("closed", "example.org")
    _, token = _invite(staff)
    assert Client().post(f"/accounts/invite/{token}/", FORM).status_code == 302
