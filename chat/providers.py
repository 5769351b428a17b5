"""Providers and models from the environment, or the built-in emulator when no key is set."""
from __future__ import annotations

import logging
import os

from django.conf import settings
from django.db import transaction

from . import catalog
from .models import Model, Provider, Route

log = logging.getLogger(__name__)
EMULATOR_NAME = "Built-in emulator"


def _upstream_ids(provider: Provider, entries: list[catalog.CatalogEntry]) -> dict[str, str]:
    kind = "xai" if provider.kind == Provider.Kind.EMULATOR else provider.kind
    return {entry.slug: entry.upstream_id(kind) for entry in entries}


def offer(provider: Provider, entries: list[catalog.CatalogEntry], ids: dict[str, str] | None = None) -> int:
    """Offer these catalog models through `provider`.

    A model already served by another enabled provider stays there; one left
    on a disabled provider (the emulator once a key is set) moves here, so
    history keeps pointing at the same model.
    """
    created = 0
    ids = {**_upstream_ids(provider, entries), **(ids or {})}
    for order, entry in enumerate(entries):
        model = Model.objects.select_related("provider").filter(slug=entry.slug).first()
        if model is not None and model.provider_id != provider.id and model.provider.enabled:
            continue
        if model is None:
            model = Model(
                slug=entry.slug, name=entry.name, reasoning=entry.reasoning,
                accepts_reasoning_effort=entry.accepts_reasoning_effort, vision=entry.vision,
                context_window=entry.context_window, price_input=entry.price_input,
                price_cached_input=entry.price_cached, price_output=entry.price_output,
                is_default=entry.slug == catalog.DEFAULT_MODEL, sort_order=order,
            )
            created += 1
        model.provider, model.upstream_id = provider, ids[entry.slug]
        model.save()
    for entry in entries:
        ensure_route(Model.objects.get(slug=entry.slug), provider, ids[entry.slug])
    return created


def ensure_route(model: Model, provider: Provider, upstream_id: str) -> Route:
    """The route to `model` through `provider` by `upstream_id`, marked listed; new ones go last."""
    route = Route.objects.filter(model=model, provider=provider, upstream_id=upstream_id).first()
    if route is None:
        count = Route.objects.filter(model=model).count()
        return Route.objects.create(model=model, provider=provider, upstream_id=upstream_id, priority=10 + 10 * count)
    if not route.available:
        route.available = True
        route.save(update_fields=["available"])
    return route


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
    from gateways.audit import record_system

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
        pass  # an admin decided about the emulator
    elif not configured:
        if emulator is None:
            emulator = Provider(name=EMULATOR_NAME, kind=Provider.Kind.EMULATOR, from_env=True)
        emulator.base_url, emulator.enabled = settings.EMULATOR_URL, True
        emulator.set_api_key("emulator")
        emulator.save()
        providers.append(emulator)
    elif emulator is not None and emulator.enabled:
        emulator.enabled = False  # a real key is configured: stop offering simulated answers
        emulator.save(update_fields=["enabled"])
    from gateways.discovery import discover, refresh_availability

    for provider in providers:
        if provider.simulated:
            offer(provider, list(catalog.CATALOG))
        elif discover(provider).error and not provider.routes.exists():
            offer(provider, list(catalog.CATALOG))  # cannot ask yet: offer the catalog rather than nothing
    refresh_availability()
    return providers
