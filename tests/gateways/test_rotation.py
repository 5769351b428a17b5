"""Key rotation: every provider keeps working, with a real call through the emulators afterwards."""
from __future__ import annotations

from io import StringIO

import pytest
from asgiref.sync import async_to_sync
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.test import override_settings

from gateways.models import AuditEntry, Provider
from gateways.probe import probe

from .conftest import GATEWAYS

pytestmark = pytest.mark.django_db


def _all_work() -> list[str]:
    return [async_to_sync(probe)(p.endpoint()).verdict for p in Provider.objects.order_by("name")]


def _providers(make_provider) -> list[Provider]:  # type: ignore[no-untyped-def]
    return [make_provider(kind) for kind in GATEWAYS]


def test_rotating_from_the_default_key_to_a_new_one(make_provider) -> None:
    new = Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEY=""):  # keys derived from SECRET_KEY, the default
        providers = _providers(make_provider)
        before = {p.pk: p.api_key_encrypted for p in providers}
        out = StringIO()
        call_command("rotate_provider_keys", new=new, stdout=out)
    assert "Re-encrypted 4 provider keys" in out.getvalue() and new not in out.getvalue()
    with override_settings(FIELD_ENCRYPTION_KEY=new):
        assert _all_work() == ["Working"] * 4
        assert all(p.api_key_encrypted != before[p.pk] for p in Provider.objects.all())
    with override_settings(FIELD_ENCRYPTION_KEY=""):  # the old key no longer opens them
        with pytest.raises(ValueError):
            Provider.objects.first().endpoint()
    assert AuditEntry.objects.filter(action="keys rotated").count() == 4


def test_rotating_in_steps_with_both_keys_configured(make_provider) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEY=old):
        _providers(make_provider)
    with override_settings(FIELD_ENCRYPTION_KEY=f"{new},{old}"):
        assert _all_work() == ["Working"] * 4  # both keys decrypt meanwhile
        call_command("rotate_provider_keys", stdout=StringIO())
    with override_settings(FIELD_ENCRYPTION_KEY=new):
        assert _all_work() == ["Working"] * 4


def test_a_wrong_old_key_changes_nothing(make_provider) -> None:
    with override_settings(FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode()):
        providers = _providers(make_provider)
        before = {p.pk: p.api_key_encrypted for p in providers}
        with pytest.raises(CommandError, match="Nothing changed"):
            call_command("rotate_provider_keys", new=Fernet.generate_key().decode(),
                         old=Fernet.generate_key().decode(), stdout=StringIO())
        assert {p.pk: p.api_key_encrypted for p in Provider.objects.all()} == before
        assert _all_work() == ["Working"] * 4
    assert not AuditEntry.objects.filter(action="keys rotated").exists()
