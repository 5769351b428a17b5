"""Self sign-up in each mode (closed, approval, open), the domain allow-list, approval and sign-in refusals."""
from __future__ import annotations

import pytest
from django.test import Client, override_settings

from accounts.models import User
from grokweb import settings as production

pytestmark = pytest.mark.django_db

NEW = {"username": "carol", "email": "carol@example.com", "password1": "a long secret 42!", "password2":
       "a long secret 42!"}


def test_closed_mode_refuses_sign_up_with_a_clear_page(signup_mode) -> None:
    signup_mode("closed")
    client = Client()
    page = client.get("/accounts/signup/")
    assert page.status_code == 403 and b"Sign-up is closed" in page.content and b"invite" in page.content
    assert client.post("/accounts/signup/", NEW).status_code == 403
    assert not User.objects.filter(username="carol").exists()
    assert b"Create an account" not in client.get("/accounts/login/").content


@override_settings(SIGNUP_MODE="open")
def test_the_environment_default_applies_until_an_admin_chooses() -> None:
    client = Client()
    assert client.get("/accounts/signup/").status_code == 200
    assert b"Create an account" in client.get("/accounts/login/").content


def test_open_mode_creates_an_active_account_and_signs_in(signup_mode) -> None:
    signup_mode("open")
    client = Client()
    answer = client.post("/accounts/signup/", NEW)
    assert answer.status_code == 302 and answer["Location"] == "/"
    user = User.objects.get(username="carol")
    assert user.status == "active" and user.is_active and user.check_password("a long secret 42!")
    assert client.get("/").status_code == 200


def test_approval_mode_makes_a_pending_account_until_staff_approve(signup_mode, staff_client, make_user,
                                                                  mailoutbox) -> None:
    signup_mode("approval")
    make_user("bob")  # a member: not told about sign-ups
    client = Client()
    answer = client.post("/accounts/signup/", NEW, follow=True)
    assert b"waiting for an administrator" in answer.content
    [to_admins] = mailoutbox  # the admins hear of it at once, with where to approve
    assert to_admins.to == ["root@example.com"] and "carol is waiting for approval" in to_admins.subject
    assert "http://testserver/team/people/" in to_admins.body
    user = User.objects.get(username="carol")
    assert user.status == "pending" and not user.is_active
    refused = client.post("/accounts/login/", {"username": "carol", "password": "a long secret 42!"})
    assert refused.status_code == 200 and b"waiting for an administrator" in refused.content
    assert client.get("/").status_code == 302  # not signed in

    people = staff_client.get("/team/people/?status=pending")
    assert b"carol" in people.content and b"Approve" in people.content
    approved = staff_client.post(f"/team/people/{user.pk}/approve/", follow=True)
    assert b"they were told by e-mail" in approved.content
    user.refresh_from_db()
    assert user.status == "active" and user.is_active
    assert mailoutbox[-1].to == ["carol@example.com"] and "http://testserver/accounts/login/" in mailoutbox[-1].body
    signed_in = client.post("/accounts/login/", {"username": "carol", "password": "a long secret 42!"})
    assert signed_in.status_code == 302 and client.get("/").status_code == 200


@pytest.mark.parametrize("mode", ["open", "approval"])
def test_the_domain_allow_list_refuses_other_addresses(signup_mode, mode) -> None:
    signup_mode(mode, "example.org, team.example.com")
    client = Client()
    refused = client.post("/accounts/signup/", NEW)
    assert refused.status_code == 200 and b"limited to addresses at example.org, team.example.com" in refused.content
    assert not User.objects.filter(username="carol").exists()
    accepted = client.post("/accounts/signup/", {**NEW, "email": "carol@TEAM.example.com"})
    assert accepted.status_code == 302 and User.objects.filter(username="carol").exists()


def test_bad_sign_up_input_is_refused_field_by_field(signup_mode, make_user) -> None:
    signup_mode("open")
    make_user("dave")
    client = Client()
    answer = client.post("/accounts/signup/", {"username": "dave", "email": "dave@example.com",
                                                "password1": "123", "password2": "456"})
    assert answer.status_code == 200
    text = answer.content.decode()
    assert "already exists" in text and "didn’t match" in text
    assert User.objects.count() == 1


def test_a_disabled_account_cannot_sign_in_and_is_told_why(make_user) -> None:
    make_user("erin", status=User.Status.DISABLED)
    answer = Client().post("/accounts/login/", {"username": "erin", "password": "correct horse battery"})
    assert answer.status_code == 200 and b"has been disabled" in answer.content


def test_wrong_passwords_lock_the_account_out_for_a_while(make_user) -> None:
    make_user("frank")
    client = Client()
    for _ in range(5):
        client.post("/accounts/login/", {"username": "frank", "password": "wrong"})
    locked = client.post("/accounts/login/", {"username": "frank", "password": "correct horse battery"})
    assert locked.status_code == 429 and b"Too many sign-in attempts" in locked.content
    assert client.get("/").status_code == 302


def test_superusers_and_the_status_stay_in_step(db) -> None:
    admin = User.objects.create_superuser("boss", "boss@example.com", "x-very-long-password")
    assert admin.status == "active" and admin.is_active
    admin.status = User.Status.DISABLED
    admin.save(update_fields=["status"])
    admin.refresh_from_db()
    assert admin.is_active is False


def test_passwords_are_checked_by_the_validators_and_stored_with_argon2(signup_mode, settings) -> None:
    settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS  # the test run hashes with MD5 (tests/settings.py)
    signup_mode("open")
    for weak, why in (("short1", "too short"), ("password123", "too common"), ("8237461923", "entirely numeric"),
                      ("carol.example", "too similar")):
        refused = Client().post("/accounts/signup/", {**NEW, "password1": weak, "password2": weak})
        assert refused.status_code == 200 and why in refused.content.decode(), weak
    assert not User.objects.exists()
    assert Client().post("/accounts/signup/", NEW).status_code == 302
    assert User.objects.get(username="carol").password.startswith("argon2$")
