"""Model discovery: ask a provider what it lists, map the ids, keep routes and availability in step.

The mapping itself is pure (`mapping.py`); this module does the I/O and the
database work. A model no provider lists any more is marked unavailable
(shown as such, never offered), not left to fail on the next message.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync
from django.db import transaction
from django.utils import timezone

from . import catalog
from .mapping import map_listing
from .models import ListedModel, Model, Provider, Route
from .offering import ensure_route, offer
from .wire.client import UpstreamClient
from .wire.errors import UpstreamError

log = logging.getLogger(__name__)


@dataclass
class Result:
    provider: str
    listed: int = 0
    mapped: list[str] = field(default_factory=list)  # slugs served through this provider
    unmapped: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # slugs this provider stopped listing
    error: str = ""

    def summary(self) -> str:
        if self.error:
            return f"{self.provider}: the model list could not be read ({self.error})."
        text = f"{self.provider}: {self.listed} ids listed, {len(self.mapped)} catalog models served"
        if self.unmapped:
            text += f", {len(self.unmapped)} unmapped"
        if self.gone:
            text += f"; no longer listed: {', '.join(self.gone)}"
        return text + "."


async def _list(provider: Provider) -> list[str]:
    async with UpstreamClient() as client:
        return await client.list_models(provider.endpoint())


def _kind(provider: Provider) -> str:
    return "xai" if provider.kind == Provider.Kind.EMULATOR else provider.kind


def discover(provider: Provider) -> Result:
    """Fetch and apply one provider's model list; an unreadable list changes nothing."""
    try:
        ids = async_to_sync(_list)(provider)
    except (UpstreamError, OSError, ValueError) as exc:
        code = getattr(exc, "code", type(exc).__name__)
        log.warning("model list of %s unavailable (%s)", provider.name, code)
        return Result(provider.name, error=str(code))
    return apply_listing(provider, ids)


@transaction.atomic
def apply_listing(provider: Provider, ids: list[str]) -> Result:
    known = {row.upstream_id: row for row in ListedModel.objects.filter(provider=provider).select_related("model")}
    ignored = {i for i, row in known.items() if row.status == ListedModel.Status.IGNORED}
    chosen = {i: row.model.slug for i, row in known.items()
              if row.status == ListedModel.Status.MAPPED and row.model is not None}
    mapping = map_listing(ids, _kind(provider), chosen=chosen, ignored=ignored)
    in_catalog = {entry.slug for entry in catalog.CATALOG}
    offer(provider, [e for e in catalog.CATALOG if e.slug in mapping.routes], ids=mapping.routes)
    for slug, upstream_id in mapping.routes.items():
        if slug not in in_catalog and (model := Model.objects.filter(slug=slug).first()) is not None:
            ensure_route(model, provider, upstream_id)
    gone_routes = Route.objects.filter(provider=provider, available=True).exclude(upstream_id__in=ids)
    gone = sorted(set(gone_routes.values_list("model__slug", flat=True)))
    gone_routes.update(available=False)
    models = {m.slug: m for m in Model.objects.filter(slug__in=[*mapping.routes, *mapping.aliases.values()])}
    route_slug = {upstream_id: slug for slug, upstream_id in mapping.routes.items()}
    for upstream_id in dict.fromkeys(ids):
        meant = route_slug.get(upstream_id) or mapping.aliases.get(upstream_id)
        row = known.get(upstream_id) or ListedModel(provider=provider, upstream_id=upstream_id)
        if row.status != ListedModel.Status.IGNORED:
            row.status = ListedModel.Status.MAPPED if meant else ListedModel.Status.UNMAPPED
            row.model = models.get(meant) if meant else None
        row.listed = True
        row.save()
    ListedModel.objects.filter(provider=provider).exclude(upstream_id__in=ids).update(listed=False)
    provider.discovered_at = timezone.now()
    provider.save(update_fields=["discovered_at"])
    refresh_availability()
    return Result(provider.name, len(set(ids)), sorted(mapping.routes), mapping.unmapped, gone)


def refresh_availability() -> int:
    """Mark each model available when a usable route exists; its first route becomes its provider."""
    changed = 0
    for model in Model.objects.prefetch_related("routes__provider"):
        routes = list(model.routes.all())
        if not routes:
            continue  # a model added by hand without routes is served by its own provider
        usable = sorted((r for r in routes if r.enabled and r.available and r.provider.enabled),
                        key=lambda r: (r.priority, r.id))
        fields = []
        if model.available != bool(usable):
            model.available = bool(usable)
            fields.append("available")
        if usable and (model.provider_id, model.upstream_id) != (usable[0].provider_id, usable[0].upstream_id):
            model.provider_id, model.upstream_id = usable[0].provider_id, usable[0].upstream_id
            fields += ["provider", "upstream_id"]
        if fields:
            model.save(update_fields=fields)
            changed += 1
    return changed


def discover_all() -> list[Result]:
    """Every enabled provider's list (the periodic task and the 'Discover all' button)."""
    return [discover(provider) for provider in Provider.objects.filter(enabled=True).order_by("name")]
