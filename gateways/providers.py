"""Providers from the environment at start-up, or the built-in emulator when no key is set."""
from __future__ import annotations

import logging
import os

from django.conf import settings
from django.db import transaction
from django.utils.crypto import salted_hmac

from . import catalog
from .audit import record_system
from .discovery import discover, refresh_availability
from .models import Provider
from .offering import offer

log = logging.getLogger(__name__)
EMULATOR_NAME = "Built-in emulator"


def emulator_key() -> str:
    """The built-in emulator's own API key: only callers holding it get answers from /emulator/v1.

    Derived from SECRET_KEY (salted), so start-up, which stores it in the emulator provider,
    and the emulator mounted in each web process, which reads no database, agree without
    it being written anywhere else. EMULATOR_API_KEY sets it instead (an emulator elsewhere).
    """
    if settings.EMULATOR_API_KEY:
        return str(settings.EMULATOR_API_KEY)
    return "emu-" + salted_hmac("grokweb.gateways.emulator_key", "built-in emulator", algorithm="sha256").hexdigest()


def _configured() -> list[tuple[str, str, str]]:
    out = []
    for kind, (key_var, url_var, default_url) in settings.PROVIDER_ENV.items():
        key = os.environ.get(key_var, "").strip()
        if key:
            out.append((kind, key, os.environ.get(url_var, "").strip() or default_url))
    return out


@transaction.atomic
def sync_from_environment(*, env_wins: bool = False) -> list[Provider]:
    """Create or update providers named by the environment; fall back to the emulator.

    A provider an admin has changed by hand keeps the admin's settings and key
    (it is still used) unless `env_wins`.
    """
    providers = []
    configured = _configured()
    for kind, key, base_url in configured:
        # The provider this variable made before, even if an admin renamed it since; else one by that name.
        label = Provider.Kind(kind).label
        provider = (Provider.objects.filter(from_env=True, kind=kind).order_by("pk").first()
                    or Provider.objects.filter(name=label).first())
        created = provider is None
        if provider is None:
            provider = Provider.objects.create(name=label, kind=kind, base_url=base_url)
        if provider.edited_by_hand and not env_wins:
            log.info("%s was changed by an admin; the environment does not overwrite it", provider.name)
            if provider.enabled:
                providers.append(provider)
            continue
        changed = [name for name, value in (("kind", kind), ("base_url", base_url), ("enabled", True))
                   if getattr(provider, name) != value]
        provider.kind, provider.base_url, provider.from_env, provider.enabled = kind, base_url, True, True
        provider.edited_by_hand = False
        if not provider.has_key(key):
            provider.set_api_key(key)
            changed.append("api_key")
        provider.save()
        if created or changed:
            record_system(provider, "created" if created else "from environment", [] if created else changed)
        providers.append(provider)
    emulator = Provider.objects.filter(kind=Provider.Kind.EMULATOR).first()
    if emulator is not None and emulator.edited_by_hand and not env_wins:
        # An admin decided about the emulator; but the mounted one answers only its own key.
        if emulator.base_url == settings.EMULATOR_URL and not emulator.has_key(emulator_key()):
            emulator.set_api_key(emulator_key())
            emulator.save(update_fields=["api_key_encrypted", "updated_at"])
            record_system(emulator, "from environment", ["api_key"])
    elif not configured:
        if emulator is None:
            emulator = Provider(name=EMULATOR_NAME, kind=Provider.Kind.EMULATOR, from_env=True)
        emulator.base_url, emulator.enabled = settings.EMULATOR_URL, True
        emulator.set_api_key(emulator_key())
        emulator.save()
        providers.append(emulator)
    elif emulator is not None and emulator.enabled:
        emulator.enabled = False  # a real key is configured: stop offering simulated answers
        emulator.save(update_fields=["enabled"])
    for provider in providers:
        if provider.simulated:
            offer(provider, list(catalog.CATALOG))
        elif discover(provider).error and not provider.routes.exists():
            offer(provider, list(catalog.CATALOG))  # cannot ask yet: offer the catalog rather than nothing
    refresh_availability()
    return providers
