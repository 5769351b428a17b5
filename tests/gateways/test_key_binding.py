"""A provider's key goes only to the URL it was entered for: a staff member cannot point it elsewhere and test."""
from __future__ import annotations

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from gateways.audit import shown_url
from gateways.models import AuditEntry, Provider

pytestmark = pytest.mark.django_db


def _form(provider: Provider, **extra: object) -> dict[str, object]:
    data = {"name": provider.name, "kind": provider.kind, "base_url": provider.base_url, "api_key": "",
            "enabled": "on", "include_usage": "on", "usage_convention": "auto", "connect_timeout": 10,
            "first_token_timeout": provider.first_token_timeout, "idle_timeout": 60, "max_retries": 0, "headers": ""}
    data.update(extra)
    return data


@pytest.mark.parametrize("change", [{"base_url": "attacker"}, {"kind": "openai"}])
def test_a_new_url_or_kind_without_the_key_is_refused_and_test_connection_stays_home(
        change, staff_client, make_provider, gateways) -> None:
    provider = make_provider("aimlapi")
    attacker = gateways["xai"]  # a server that logs bearer tokens would be anyone's
    if change.get("base_url") == "attacker":
        change = {"base_url": attacker.url}
    page = staff_client.post(reverse("gateways:provider_edit", args=[provider.pk]), _form(provider, **change))
    assert page.status_code == 200 and "Enter the API key again" in page.content.decode()
    provider.refresh_from_db()
    assert (provider.base_url, provider.kind) == (gateways["aimlapi"].url, "aimlapi")
    assert not AuditEntry.objects.filter(provider=provider).exists()
    tested = staff_client.post(reverse("gateways:provider_test", args=[provider.pk]), follow=True)
    assert "Working" in tested.content.decode()  # against its own gateway, with its own key


def test_a_new_url_with_its_key_is_saved_and_audited_before_and_after(staff_client, make_provider, gateways) -> None:
    provider = make_provider("aimlapi")
    old, new = provider.base_url, gateways["xai"].url
    staff_client.post(reverse("gateways:provider_edit", args=[provider.pk]),
                      _form(provider, base_url=new, api_key=gateways["xai"].key))
    provider.refresh_from_db()
    assert provider.base_url == new and provider.endpoint().api_key == gateways["xai"].key
    entries = list(AuditEntry.objects.filter(provider=provider).order_by("id").values_list("action", "fields"))
    assert entries == [("edited", [f"base_url: {old} → {new}"]), ("key changed", ["api_key"])]
    assert gateways["xai"].key not in str(entries)
    page = staff_client.get(reverse("gateways:providers")).content.decode()
    assert f"base_url: {old} → {new}" in page and gateways["xai"].key not in page


def test_the_django_admin_form_binds_the_key_too(staff_client, make_provider, gateways) -> None:
    provider = make_provider("aimlapi")
    form = {**_form(provider, base_url=gateways["xai"].url), "enabled": "on"}
    page = staff_client.post(f"/admin/gateways/provider/{provider.pk}/change/", form)
    assert page.status_code == 200 and "Enter the API key again" in page.content.decode()
    provider.refresh_from_db()
    assert provider.base_url == gateways["aimlapi"].url


def test_the_audit_log_keeps_no_credentials_of_a_url() -> None:
    assert shown_url("https://user:secret@gw.example:8443/v1?key=sk-123#x") == "https://gw.example:8443/v1"


@override_settings(GATEWAY_KEYS_SUPERUSERS_ONLY=True)
def test_with_superusers_only_other_staff_cannot_change_keys_or_urls(make_user, staff_client, make_provider,
                                                                      gateways) -> None:
    provider = make_provider("aimlapi")
    admin = Client()
    admin.force_login(make_user("helper", is_staff=True))
    url = reverse("gateways:provider_edit", args=[provider.pk])
    admin.post(url, _form(provider, name="Renamed", base_url=gateways["xai"].url, api_key="sk-mine"))
    provider.refresh_from_db()
    assert provider.name == "Renamed"  # other fields are theirs to change
    assert provider.base_url == gateways["aimlapi"].url and provider.endpoint().api_key == gateways["aimlapi"].key
    assert "Only superusers change keys" in admin.get(url).content.decode()
    staff_client.post(url, _form(provider, base_url=gateways["xai"].url, api_key=gateways["xai"].key))
    provider.refresh_from_db()
    assert provider.base_url == gateways["xai"].url  # a superuser can
