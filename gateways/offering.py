"""Offering catalog models through a provider: the Model rows and their routes. Used by discovery and start-up."""
from __future__ import annotations

from . import catalog
from .models import Model, Provider, Route


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
