"""Gateway model ids -> catalog slugs. Pure: a list of ids in, a mapping out.

Gateways name the same model differently: `x-ai/grok-4-1-fast-reasoning`
(AI/ML API), `grok-4.20-beta-0309-non-reasoning` (maxtoken), `grok-4.1-thinking`
(crazyrouter). `catalog.lookup` knows slugs, aliases and per-gateway ids with
or without a vendor prefix and with dots or dashes; this module adds the
spelling variants gateways invent on top (beta markers, date suffixes,
`-latest`) and picks one id per model when a gateway lists several.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import catalog

_BETA = re.compile(r"-beta(?=-|$)")
_DATE = re.compile(r"-(?:\d{4}|\d{4}-\d{2}-\d{2}|\d{8})$")
_LATEST = re.compile(r"-(?:latest|preview)$")


def variants(upstream_id: str) -> list[str]:
    """The id, then ever looser spellings of it (most specific first)."""
    bare = upstream_id.strip().rsplit("/", 1)[-1].lower()
    out = [upstream_id.strip().lower(), bare]
    no_beta = _BETA.sub("", bare)
    out.append(no_beta)
    out.append(_LATEST.sub("", no_beta))
    out.append(_DATE.sub("", _LATEST.sub("", no_beta)))
    return list(dict.fromkeys(v for v in out if v))


def map_id(upstream_id: str) -> str | None:
    """The catalog slug a gateway's id means, or None when it is not a Grok model we know."""
    if "grok" not in upstream_id.lower():
        return None
    for candidate in variants(upstream_id):
        entry = catalog.lookup(candidate)
        if entry is not None:
            return entry.slug
    return None


@dataclass
class Mapping:
    """What one model list means: a route id per slug, the other ids per slug, and the unknown ids."""

    routes: dict[str, str] = field(default_factory=dict)  # slug -> the upstream id to call it by
    aliases: dict[str, str] = field(default_factory=dict)  # other listed id -> slug
    unmapped: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def map_listing(ids: list[str], provider_kind: str, *, chosen: dict[str, str] | None = None,
                ignored: set[str] | frozenset[str] = frozenset()) -> Mapping:
    """Map a provider's listed ids.

    `chosen` holds an admin's hand-made mappings (id -> slug), which win over
    the automatic ones; `ignored` ids are set aside. When several ids mean one
    model, the catalog's own id for this kind of gateway is preferred, then
    the first listed.
    """
    chosen = chosen or {}
    by_slug: dict[str, list[str]] = {}
    result = Mapping()
    for upstream_id in dict.fromkeys(ids):
        if upstream_id in ignored:
            result.ignored.append(upstream_id)
            continue
        slug = chosen.get(upstream_id) or map_id(upstream_id)
        if slug is None:
            result.unmapped.append(upstream_id)
        else:
            by_slug.setdefault(slug, []).append(upstream_id)
    entries = {entry.slug: entry for entry in catalog.CATALOG}
    for slug, found in by_slug.items():
        entry = entries.get(slug)
        preferred = entry.upstream_id(provider_kind) if entry else None
        pick = preferred if preferred in found else found[0]
        result.routes[slug] = pick
        result.aliases.update({other: slug for other in found if other != pick})
    return result
