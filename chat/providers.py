"""Providers and models from the environment, or the built-in emulator when no key is set."""
from __future__ import annotations

import logging
import os

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction

from . import catalog
from .models import Model, Provider
from .upstream.client import UpstreamClient
from .upstream.errors import UpstreamError

log = logging.getLogger(__name__)
EMULATOR_NAME = "Built-in emulator"


async def _discover(provider: Provider) -> list[str]:
    async with UpstreamClient() as client:
        return await client.list_models(provider.endpoint())


def discover(provider: Provider) -> list[catalog.CatalogEntry]:
    """The catalog entries a provider serves; the whole catalog if it cannot be asked."""
    if provider.simulated:
        return list(catalog.CATALOG)
    try:
        ids = async_to_sync(_discover)(provider)
    except (UpstreamError, OSError) as exc:
        log.warning("model list of %s unavailable (%s); offering the whole catalog", provider.name,
                    getattr(exc, "code", type(exc).__name__))
        return list(catalog.CATALOG)
    found = {entry.slug: entry for entry in filter(None, map(catalog.lookup, ids))}
    unmapped = [i for i in ids if catalog.lookup(i) is None]
    if unmapped:
        log.info("%s lists models outside the catalog: %s", provider.name, ", ".join(sorted(unmapped)[:20]))
    return [entry for entry in catalog.CATALOG if entry.slug in found]


def _upstream_ids(provider: Provider, entries: list[catalog.CatalogEntry]) -> dict[str, str]:
    kind = "xai" if provider.kind == Provider.Kind.EMULATOR else provider.kind
    return {entry.slug: entry.upstream_id(kind) for entry in entries}


def offer(provider: Provider, entries: list[catalog.CatalogEntry]) -> int:
    """Offer these catalog models through `provider`.

    A model already served by another enabled provider stays there; one left
    on a disabled provider (the emulator once a key is set) moves here, so
    history keeps pointing at the same model.
    """
    created = 0
    ids = _upstream_ids(provider, entries)
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
    return created


def _configured() -> list[tuple[str, str, str]]:
    out = []
    for kind, (key_var, url_var, default_url) in settings.PROVIDER_ENV.items():
        key = os.environ.get(key_var, "").strip()
        if key:
            out.append((kind, key, os.environ.get(url_var, "").strip() or default_url))
    return out


@transaction.atomic
def sync_from_environment() -> list[Provider]:
    """Create or update providers named by the environment; fall back to the emulator."""
    providers = []
    for kind, key, base_url in _configured():
        provider, _ = Provider.objects.get_or_create(
            name=Provider.Kind(kind).label, defaults={"kind": kind, "base_url": base_url}
        )
        provider.kind, provider.base_url, provider.from_env, provider.enabled = kind, base_url, True, True
        provider.set_api_key(key)
        provider.save()
        providers.append(provider)
    emulator = Provider.objects.filter(kind=Provider.Kind.EMULATOR).first()
    if not providers:
        if emulator is None:
            emulator = Provider(name=EMULATOR_NAME, kind=Provider.Kind.EMULATOR, from_env=True)
        emulator.base_url, emulator.enabled = settings.EMULATOR_URL, True
        emulator.set_api_key("emulator")
        emulator.save()
        providers.append(emulator)
    elif emulator is not None and emulator.enabled:
        emulator.enabled = False  # a real key is configured: stop offering simulated answers
        emulator.save(update_fields=["enabled"])
    for provider in providers:
        offer(provider, discover(provider))
    return providers
