"""Gateway ids to catalog slugs: pure."""
from __future__ import annotations

import pytest

from emulator import emulation as em
from gateways.mapping import map_id, map_listing, variants


@pytest.mark.parametrize(("upstream_id", "slug"), [
    ("x-ai/grok-4-1-fast-reasoning", "grok-4-1-fast-reasoning"),  # AI/ML API prefix
    ("grok-4.1-fast-reasoning", "grok-4-1-fast-reasoning"),  # dots vs dashes
    ("grok-4.20-beta-0309-non-reasoning", "grok-4.20-0309-non-reasoning"),  # maxtoken beta name
    ("grok-4.20-beta-0309-reasoning", "grok-4.20-0309-reasoning"),
    ("grok-4", "grok-4-0709"),  # crazyrouter short names
    ("grok-4-fast", "grok-4-fast-reasoning"),
    ("grok-4.1-thinking", "grok-4-1-fast-reasoning"),  # an alias
    ("grok-3-mini-beta", "grok-3-mini"),  # a beta marker
    ("grok-4-1-fast-reasoning-0309", "grok-4-1-fast-reasoning"),  # a date suffix
    ("xai/grok-code-fast-1-latest", "grok-code-fast-1"),
    ("X-AI/GROK-4-07-09", "grok-4-0709"),
])
def test_gateway_spellings_map_to_one_catalog_model(upstream_id: str, slug: str) -> None:
    assert map_id(upstream_id) == slug


@pytest.mark.parametrize("upstream_id", ["gpt-4o", "openai/gpt-4o", "grok-imagine-video", "claude-sonnet-4-5", ""])
def test_other_models_stay_unmapped(upstream_id: str) -> None:
    assert map_id(upstream_id) is None


def test_variants_go_from_exact_to_loose() -> None:
    assert variants("x-ai/grok-3-mini-beta-latest")[:2] == ["x-ai/grok-3-mini-beta-latest", "grok-3-mini-beta-latest"]
    assert variants("x-ai/grok-3-mini-beta-latest")[-1] == "grok-3-mini"


def test_a_gateway_listing_several_names_for_one_model_gets_one_route() -> None:
    mapping = map_listing(["grok-4.1-thinking", "grok-4.1-fast", "gpt-4o-mini"], "crazyrouter")
    assert mapping.routes == {"grok-4-1-fast-reasoning": "grok-4.1-fast"}  # the catalog's crazyrouter id wins
    assert mapping.aliases == {"grok-4.1-thinking": "grok-4-1-fast-reasoning"}
    assert mapping.unmapped == ["gpt-4o-mini"]


def test_hand_made_mappings_win_and_ignored_ids_are_set_aside() -> None:
    mapping = map_listing(["grok-experimental", "gpt-4o", "grok-4"], "crazyrouter",
                          chosen={"grok-experimental": "grok-3-mini"}, ignored={"gpt-4o"})
    assert mapping.routes == {"grok-3-mini": "grok-experimental", "grok-4-0709": "grok-4"}
    assert mapping.ignored == ["gpt-4o"] and mapping.unmapped == []


@pytest.mark.parametrize("listing", em.LISTINGS)
def test_every_emulated_gateway_list_maps_the_whole_catalog(listing: str) -> None:
    mapping = map_listing(em.gateway_ids(listing), listing)
    assert len(mapping.routes) == 9
    assert all("grok" not in i or "imagine" in i for i in mapping.unmapped)
