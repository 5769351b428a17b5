"""The providers and health pages: staff only, audited changes, plain-words connection tests."""
from __future__ import annotations

import re

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from gateways.discovery import discover
from gateways.models import Attempt, AuditEntry, Model, Provider, Route

pytestmark = pytest.mark.django_db

PAGES = ["gateways:providers", "gateways:health", "gateways:provider_add", "gateways:routes"]


@pytest.mark.parametrize("name", PAGES)
def test_members_get_403_and_anonymous_users_sign_in(name, member_client) -> None:
    assert member_client.get(reverse(name)).status_code == 403
    response = Client().get(reverse(name))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_members_cannot_change_anything(member_client, make_provider) -> None:
    provider = make_provider("xai")
    for name in ("gateways:provider_toggle", "gateways:provider_test", "gateways:provider_discover",
                 "gateways:provider_edit"):
        assert member_client.post(reverse(name, args=[provider.pk]), {"name": "pwned"}).status_code == 403
    provider.refresh_from_db()
    assert provider.enabled and provider.name == "xAI"


def _form(url: str, **extra: object) -> dict[str, object]:
    data = {"name": "Crazy", "kind": "crazyrouter", "base_url": url, "api_key": "", "enabled": "on",
            "include_usage": "on", "usage_convention": "auto", "connect_timeout": 10, "first_token_timeout": 120,
            "idle_timeout": 60, "max_retries": 1, "headers": ""}
    data.update(extra)
    return data


def test_adding_a_provider_discovers_its_models_and_is_audited(staff_client, staff, gateways) -> None:
    gw = gateways["crazyrouter"]
    response = staff_client.post(reverse("gateways:provider_add"), _form(gw.url, api_key=gw.key), follow=True)
    page = response.content.decode()
    assert "Added Crazy" in page and "9 catalog models served" in page
    provider = Provider.objects.get(name="Crazy")
    assert provider.endpoint().api_key == gw.key and provider.edited_by_hand
    assert Route.objects.filter(provider=provider).count() == 9
    actions = list(AuditEntry.objects.filter(provider=provider).values_list("action", "actor_name"))
    assert sorted(actions) == [("created", "root"), ("key changed", "root")]


def test_a_new_provider_needs_a_key_and_bad_headers_are_explained(staff_client, gateways) -> None:
    page = staff_client.post(reverse("gateways:provider_add"), _form(gateways["xai"].url)).content.decode()
    assert "needs its API key" in page
    page = staff_client.post(reverse("gateways:provider_add"), _form(
        gateways["xai"].url, api_key="k", headers='{"Authorization": "Bearer x"}')).content.decode()
    assert "put the key in the API key field" in page
    page = staff_client.post(reverse("gateways:provider_add"), _form(
        gateways["xai"].url, api_key="k", headers="{not json")).content.decode()
    assert "JSON object" in page
    assert not Provider.objects.exists() and not AuditEntry.objects.exists()


def test_edits_name_the_fields_and_a_key_change_never_shows_the_key(staff_client, make_provider) -> None:
    provider = make_provider("xai")
    url = reverse("gateways:provider_edit", args=[provider.pk])
    data = _form(provider.base_url, name="xAI direct", kind="xai", first_token_timeout=90)
    staff_client.post(url, data)
    staff_client.post(url, {**data, "api_key": "xai-brand-new-key-0123456789"})
    staff_client.post(url, {**data, "api_key": ""})  # empty keeps the stored key, changes nothing
    entries = list(AuditEntry.objects.filter(provider=provider).order_by("id").values_list("action", "fields"))
    assert entries == [("edited", ["first_token_timeout", "max_retries", "name"]), ("key changed", ["api_key"])]
    provider.refresh_from_db()
    assert provider.endpoint().api_key == "xai-brand-new-key-0123456789"
    page = staff_client.get(url).content.decode()
    assert "xai-brand-new-key-0123456789" not in page and "A key is stored" in page and "key changed" in page


def test_disabling_a_provider_is_audited_and_its_only_models_become_unavailable(staff_client, make_provider,
                                                                                 logged_in) -> None:
    provider = make_provider("xai")
    discover(provider)
    assert len(logged_in.get("/api/models/").json()) == 9
    staff_client.post(reverse("gateways:provider_toggle", args=[provider.pk]))
    provider.refresh_from_db()
    assert not provider.enabled and provider.edited_by_hand
    assert not Model.objects.filter(available=True).exists()
    assert logged_in.get("/api/models/").json() == []
    assert AuditEntry.objects.filter(provider=provider, action="disabled", actor_name="root").exists()


@pytest.mark.parametrize(("setup", "words"), [
    ({}, "Working: 12 models listed; x-ai/grok-4-1-fast-reasoning answered a one-token request in"),
    ({"key": "sk-not-the-right-one"}, "Bad key: the gateway did not accept the API key."),
    ({"headers": {"X-Emulator-Fault": "bad_key"}}, "Bad key"),
    ({"headers": {"X-Emulator-Fault": "403_credits"}}, "No credits"),
    ({"url": "http://127.0.0.1:9/v1"}, "Unreachable: no connection to the gateway"),
    ({"route": "grok-9-imaginary"}, "Unknown model: the gateway does not offer grok-9-imaginary"),
])
def test_test_connection_says_what_is_wrong_in_plain_words(setup, words, staff_client, make_provider) -> None:
    route = setup.pop("route", None)
    provider = make_provider("aimlapi", **setup)
    if route:
        Route.objects.create(model=Model.objects.create(slug="grok-9", name="Grok 9", provider=provider,
                                                        upstream_id=route), provider=provider, upstream_id=route,
                             priority=1)
    page = staff_client.post(reverse("gateways:provider_test", args=[provider.pk]), follow=True).content.decode()
    assert words in page, page.split("<main")[1][:1500]


@override_settings(GATEWAY_SLOW_MS=0)
def test_test_connection_calls_a_slow_gateway_slow_with_the_time(staff_client, make_provider) -> None:
    provider = make_provider("xai")
    page = staff_client.post(reverse("gateways:provider_test", args=[provider.pk]), follow=True).content.decode()
    assert "Slow: 9 models listed" in page and re.search(r"\(\d+ ms in all, more than 0 ms\)", page)


def test_health_shows_calls_error_rates_and_ttft_percentiles(staff_client, make_provider) -> None:
    from django.utils import timezone

    provider = make_provider("xai")
    now = timezone.now()
    rows = [Attempt(provider=provider, model_slug="grok-3-mini", outcome="ok", ttft_ms=ms, at=now)
            for ms in (100, 200, 300, 400, 1000)]
    rows += [Attempt(provider=provider, model_slug="grok-3-mini", outcome="upstream_unavailable", at=now),
             Attempt(provider=provider, model_slug="grok-3-mini", outcome="ok", ttft_ms=50,
                     at=now - timezone.timedelta(hours=3))]
    Attempt.objects.bulk_create(rows)
    page = staff_client.get(reverse("gateways:health")).content.decode()
    hour = page.split('id="health-hour"')[1].split('id="health-day"')[0]
    assert ">6<" in hour and "17%" in hour and "upstream_unavailable × 1" in hour
    assert "300 ms" in hour and "1000 ms" in hour  # p50, p95
    day = page.split('id="health-day"')[1]
    assert ">7<" in day and "200 ms" in day


def test_deleting_a_provider_in_the_django_admin_is_audited(staff_client, make_provider) -> None:
    provider = make_provider("maxtoken", name="Old maxtoken")
    response = staff_client.post(f"/admin/gateways/provider/{provider.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Provider.objects.filter(pk=provider.pk).exists()
    entry = AuditEntry.objects.get(action="deleted")
    assert (entry.provider_name, entry.actor_name, entry.provider) == ("Old maxtoken", "root", None)
    assert "Old maxtoken" in staff_client.get(reverse("gateways:providers")).content.decode()  # in Recent changes


def test_ignoring_an_id_is_audited(staff_client, make_provider) -> None:
    from gateways.models import ListedModel

    provider = make_provider("aimlapi")
    discover(provider)
    listed = ListedModel.objects.get(provider=provider, upstream_id="openai/gpt-4o")
    staff_client.post(reverse("gateways:listed_ignore", args=[listed.pk]))
    staff_client.post(reverse("gateways:listed_ignore", args=[listed.pk]), {"undo": "1"})
    assert list(AuditEntry.objects.filter(provider=provider).order_by("id").values_list("fields", flat=True)) == [
        ["ignored openai/gpt-4o"], ["unignored openai/gpt-4o"]]
