"""Password reset by e-mail (the link works once) and password change."""
from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _locmem_mail(settings):  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def test_the_reset_link_sets_a_new_password_and_works_only_once(user) -> None:
    client = Client()
    assert b"Forgot your password?" in client.get("/accounts/login/").content
    answer = client.post("/accounts/password/reset/", {"email": "alice@example.com"}, follow=True)
    assert b"Check your e-mail" in answer.content
    assert len(mail.outbox) == 1 and mail.outbox[0].subject == "Reset your Grokweb password"
    link = re.search(r"http://testserver(/accounts/password/reset/\S+/)", mail.outbox[0].body).group(1)

    form = client.get(link, follow=True)
    assert b"Choose a new password" in form.content
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "a brand new secret 7",
                                                    "new_password2": "a brand new secret 7"}, follow=True)
    assert b"Your password is set" in done.content
    user.refresh_from_db()
    assert user.check_password("a brand new secret 7")

    again = Client().get(link, follow=True)
    assert b"This link no longer works" in again.content


def test_no_mail_for_unknown_or_inactive_addresses(make_user) -> None:
    make_user("paula", status=User.Status.PENDING)
    for email in ("nobody@example.com", "paula@example.com"):
        answer = Client().post("/accounts/password/reset/", {"email": email}, follow=True)
        assert b"Check your e-mail" in answer.content  # never reveal whether it exists
    assert mail.outbox == []


def test_password_change_keeps_the_user_signed_in(logged_in, user) -> None:
    bad = logged_in.post("/accounts/password/change/", {"old_password": "wrong", "new_password1": "x",
                                                        "new_password2": "x"})
    assert bad.status_code == 200 and b"incorrectly" in bad.content
    answer = logged_in.post("/accounts/password/change/", {
        "old_password": "correct horse battery", "new_password1": "another fine secret 9",
        "new_password2": "another fine secret 9"}, follow=True)
    assert b"Your password was changed" in answer.content
    user.refresh_from_db()
    assert user.check_password("another fine secret 9") and logged_in.get("/").status_code == 200
