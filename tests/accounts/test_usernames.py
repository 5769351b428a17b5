"""New usernames cannot start with = + - @ (a spreadsheet would run them as formulas): sign-up, invites, admin."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts import invites
from accounts.models import User

pytestmark = pytest.mark.django_db

NEW = {"email": "new@example.com", "password1": "a long secret 42!", "password2": "a long secret 42!"}


@pytest.mark.parametrize("name", ["=cmd", "+cmd", "-cmd", "@cmd", "a b", "a=b"])
def test_sign_up_refuses_a_username_a_spreadsheet_would_run(signup_mode, name) -> None:
    signup_mode("open")
    answer = Client().post("/accounts/signup/", {**NEW, "username": name})
    assert answer.status_code == 200 and b"starting with a letter" in answer.content
    assert not User.objects.filter(email="new@example.com").exists()


@pytest.mark.parametrize("name", ["carol", "carol.b-c+d@x", "_svc", "9lives", "élise"])
def test_sign_up_takes_ordinary_usernames(signup_mode, name) -> None:
    signup_mode("open")
    assert Client().post("/accounts/signup/", {**NEW, "username": name}).status_code == 302
    assert User.objects.filter(username=name).exists()


def test_an_invite_refuses_it_too(staff) -> None:
    _, token = invites.create(created_by=staff, expires_at=timezone.now() + timedelta(days=7))
    answer = Client().post(f"/accounts/invite/{token}/", {**NEW, "username": "=HYPERLINK(1)"})
    assert answer.status_code == 200 and b"starting with a letter" in answer.content
    assert not User.objects.filter(email="new@example.com").exists()


def test_the_admin_refuses_it_too(staff_client) -> None:
    form = {"username": "+evil", "password1": "a long secret 42!", "password2": "a long secret 42!",
            "usable_password": "true"}
    answer = staff_client.post("/admin/accounts/user/add/", form)
    assert answer.status_code == 200 and b"starting with a letter" in answer.content
    assert not User.objects.filter(username="+evil").exists()
