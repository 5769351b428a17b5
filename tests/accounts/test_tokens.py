"""Personal access tokens: their form, their storage (hash only), when they stop, the page and the command."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from accounts import tokens
from accounts.models import ApiToken

pytestmark = pytest.mark.django_db


def test_a_token_has_a_scannable_prefix_a_checksum_and_only_its_hash_is_stored(user) -> None:
    token, raw = tokens.create(user, "laptop")
    assert re.fullmatch(r"grokweb_[0-9A-Za-z]{38}", raw) and tokens.well_formed(raw)
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest() and raw not in str(token.__dict__)
    assert token.hint == raw[:12] and str(token) == f"laptop ({raw[:12]}…)"
    typo = raw[:20] + ("A" if raw[20] != "A" else "B") + raw[21:]
    assert not tokens.well_formed(typo)  # the checksum catches it before any database read
    assert tokens.generate() != tokens.generate()


def test_authenticate_finds_the_token_and_refuses_what_must_not_work(user, make_user) -> None:
    token, raw = tokens.create(user, "ok")
    assert tokens.authenticate(raw).pk == token.pk
    for bad in ("", "sk-xyz", tokens.generate(), raw + "x"):
        with pytest.raises(tokens.TokenRefused) as refused:
            tokens.authenticate(bad)
        assert refused.value.reason == "invalid"
    old, old_raw = tokens.create(user, "old", expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(tokens.TokenRefused, match="expired"):
        tokens.authenticate(old_raw)
    assert tokens.revoke(token, by=user) and not tokens.revoke(token)
    with pytest.raises(tokens.TokenRefused, match="revoked"):
        tokens.authenticate(raw)
    pending = make_user("pat", status="pending")
    with pytest.raises(tokens.TokenRefused) as refused:
        tokens.authenticate(tokens.create(pending, "p")[1])
    assert refused.value.reason == "pending"


def test_last_use_is_written_at_most_once_a_minute_unless_the_address_changes(user, django_assert_num_queries) -> None:
    token, _ = tokens.create(user, "t")
    now = timezone.now()
    with django_assert_num_queries(1):
        tokens.touch(token, "10.0.0.1", now)
    with django_assert_num_queries(0):
        tokens.touch(token, "10.0.0.1", now + dt.timedelta(seconds=30))
    with django_assert_num_queries(1):
        tokens.touch(token, "10.0.0.2", now + dt.timedelta(seconds=31))
    token.refresh_from_db()
    assert token.last_used_ip == "10.0.0.2"


def test_people_see_their_own_tokens_staff_everyones(user, staff) -> None:
    mine, _ = tokens.create(user, "mine")
    theirs, _ = tokens.create(staff, "theirs")
    assert list(tokens.visible_to(user)) == [mine]
    assert set(tokens.visible_to(staff)) == {mine, theirs}


def test_the_page_shows_a_new_token_once_and_never_again(logged_in, user, emulator_provider) -> None:
    answer = logged_in.post("/accounts/tokens/", {"name": "notebook", "expires": "30",
                                                   "models": ["grok-3-mini"]})
    body = answer.content.decode()
    raw = re.search(r'value="(grokweb_[0-9A-Za-z]{38})"', body).group(1)
    token = ApiToken.objects.get()
    assert tokens.authenticate(raw).pk == token.pk and token.model_slugs == ["grok-3-mini"]
    assert answer.status_code == 200 and answer["Cache-Control"] == "no-store" and "shown only once" in body
    assert token.expires_at is not None and 29 <= (token.expires_at - timezone.now()).days <= 30
    again = logged_in.get("/accounts/tokens/").content.decode()
    assert raw not in again and token.hint in again and "notebook" in again


def test_a_token_may_only_be_narrowed_to_models_its_owner_may_use(logged_in, emulator_provider) -> None:
    answer = logged_in.post("/accounts/tokens/", {"name": "x", "expires": "", "models": ["gpt-9"]})
    assert answer.status_code == 400 and not ApiToken.objects.exists()


def test_owners_and_staff_revoke_others_get_404(user, make_user, staff_client) -> None:
    token, _ = tokens.create(user, "t")
    other = Client()
    other.force_login(make_user("mallory"))
    assert other.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 404
    assert staff_client.get("/accounts/tokens/").content.decode().count(token.hint) == 1
    assert staff_client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by.username == "root"


def test_create_api_token_prints_the_token_alone_on_its_last_line(user, emulator_provider) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", "alice", "--name", "CI", "--expires-days", "7", "--model", "grok-3-mini",
                 stdout=out, stderr=err)
    raw = out.getvalue().splitlines()[-1]
    token = tokens.authenticate(raw)
    assert token.name == "CI" and token.model_slugs == ["grok-3-mini"] and "CI" in err.getvalue()
    assert 6 <= (token.expires_at - timezone.now()).days <= 7
    for args in (["nobody", "--name", "x"], ["alice", "--name", "x", "--model", "gpt-9"],
                 ["alice", "--name", "x", "--expires-days", "0"]):
        with pytest.raises(CommandError):
            call_command(*("create_api_token", *args), stdout=io.StringIO())
