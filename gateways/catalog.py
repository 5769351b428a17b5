"""The built-in Grok catalog: what each model is, costs and is called per gateway.

Pure data and lookups, shared by model discovery, the emulator and the seed
migration. Prices are USD per million tokens (UPSTREAM.md, March 2026).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

# How a model shows its reasoning while streaming.
NO_REASONING = "none"  # answers at once
HIDDEN = "hidden"  # silent pause, only reasoning_tokens in the usage
TRACE = "trace"  # the whole trace as delta.reasoning_content
SUMMARY = "summary"  # a short summary before the content (grok-code-fast-1)


@dataclass(frozen=True)
class Timing:
    """Third-party measurements: seconds to first answer token, tokens per second."""

    first_token_s: float
    tokens_per_s: float


@dataclass(frozen=True)
class CatalogEntry:
    slug: str
    name: str
    reasoning: str
    vision: bool
    context_window: int
    price_input: Decimal
    price_cached: Decimal
    price_output: Decimal
    timing: Timing
    accepts_reasoning_effort: bool = False
    reasoning_efforts: tuple[str, ...] = ("low", "high")  # the values it takes, where it takes any
    # Upstream id per provider kind where it differs from the slug.
    upstream_ids: dict[str, str] = field(default_factory=dict)
    # Other ids gateways use for this model (crazyrouter, beta names, xAI aliases).
    aliases: tuple[str, ...] = ()

    @property
    def reasons(self) -> bool:
        return self.reasoning != NO_REASONING

    @property
    def accepts_penalties(self) -> bool:
        """Reasoning models reject presence/frequency penalties and `stop`."""
        return not self.reasons

    def upstream_id(self, provider_kind: str) -> str:
        return self.upstream_ids.get(provider_kind, self.slug)


def _d(value: str) -> Decimal:
    return Decimal(value)


_FAST = Timing(2.0, 250.0)
_FAST_NR = Timing(0.4, 250.0)

CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry(
        "grok-4-1-fast-reasoning", "Grok 4.1 Fast (reasoning)", HIDDEN, True, 2_000_000,
        _d("0.20"), _d("0.05"), _d("0.50"), _FAST,
        upstream_ids={"aimlapi": "x-ai/grok-4-1-fast-reasoning", "crazyrouter": "grok-4.1-fast"},
        aliases=("grok-4.1-fast-reasoning", "grok-4.1-fast", "grok-4.1-thinking"),
    ),
    CatalogEntry(
        "grok-4-1-fast-non-reasoning", "Grok 4.1 Fast", NO_REASONING, True, 2_000_000,
        _d("0.20"), _d("0.05"), _d("0.50"), _FAST_NR,
        upstream_ids={"aimlapi": "x-ai/grok-4-1-fast-non-reasoning", "crazyrouter": "grok-4.1"},
        aliases=("grok-4.1-fast-non-reasoning", "grok-4.1"),
    ),
    CatalogEntry(
        "grok-4-fast-reasoning", "Grok 4 Fast (reasoning)", HIDDEN, True, 2_000_000,
        _d("0.20"), _d("0.05"), _d("0.50"), _FAST,
        upstream_ids={"aimlapi": "x-ai/grok-4-fast-reasoning", "crazyrouter": "grok-4-fast"},
        aliases=("grok-4-fast",),
    ),
    CatalogEntry(
        "grok-4-fast-non-reasoning", "Grok 4 Fast", NO_REASONING, True, 2_000_000,
        _d("0.20"), _d("0.05"), _d("0.50"), _FAST_NR,
        upstream_ids={"aimlapi": "x-ai/grok-4-fast-non-reasoning"},
    ),
    CatalogEntry(
        "grok-4-0709", "Grok 4", HIDDEN, False, 256_000,
        _d("3.00"), _d("0.75"), _d("15.00"), Timing(3.7, 60.0),
        upstream_ids={"aimlapi": "x-ai/grok-4-07-09", "crazyrouter": "grok-4"},
        aliases=("grok-4", "grok-4-latest"),
    ),
    CatalogEntry(
        "grok-code-fast-1", "Grok Code Fast 1", SUMMARY, False, 256_000,
        _d("0.20"), _d("0.02"), _d("1.50"), Timing(2.8, 170.0),
        upstream_ids={"aimlapi": "x-ai/grok-code-fast-1"},
    ),
    CatalogEntry(
        "grok-3-mini", "Grok 3 Mini", TRACE, False, 131_072,
        _d("0.30"), _d("0.075"), _d("0.50"), Timing(0.5, 190.0),
        accepts_reasoning_effort=True,
        upstream_ids={"aimlapi": "x-ai/grok-3-mini"},
        aliases=("grok-3-mini-latest",),
    ),
    CatalogEntry(
        "grok-4.20-0309-reasoning", "Grok 4.20 (reasoning)", HIDDEN, True, 2_000_000,
        _d("2.00"), _d("0.20"), _d("6.00"), Timing(6.0, 230.0),
        upstream_ids={"maxtoken": "grok-4.20-beta-0309-reasoning", "crazyrouter": "grok-4.2"},
        aliases=("grok-4.20-beta-0309-reasoning", "grok-4.2", "grok-4.20"),
    ),
    CatalogEntry(
        "grok-4.20-0309-non-reasoning", "Grok 4.20", NO_REASONING, True, 2_000_000,
        _d("2.00"), _d("0.20"), _d("6.00"), Timing(0.8, 230.0),
        upstream_ids={"maxtoken": "grok-4.20-beta-0309-non-reasoning"},
        aliases=("grok-4.20-beta-0309-non-reasoning",),
    ),
)

# The cheap model titles are written with.
TITLE_MODEL = "grok-4-1-fast-non-reasoning"
DEFAULT_MODEL = "grok-4-1-fast-reasoning"

_BY_ID: dict[str, CatalogEntry] = {}
for _entry in CATALOG:
    for _key in (_entry.slug, *_entry.aliases, *_entry.upstream_ids.values()):
        _BY_ID.setdefault(_key.lower(), _entry)


def _bare(model_id: str) -> str:
    """Drop a gateway prefix such as `x-ai/` or `xai/`."""
    return model_id.rsplit("/", 1)[-1].lower()


def lookup(model_id: str) -> CatalogEntry | None:
    """The catalog entry a gateway's model id means, or None if unknown.

    Accepts slugs, aliases and per-gateway ids, with or without a vendor
    prefix, and with dots or dashes in the version (`grok-4.1-fast` vs
    `grok-4-1-fast`).
    """
    key = model_id.lower()
    for candidate in (key, _bare(key)):
        if candidate in _BY_ID:
            return _BY_ID[candidate]
    bare = _bare(key)
    for known, entry in _BY_ID.items():
        if _bare(known).replace(".", "-") == bare.replace(".", "-"):
            return entry
    return None
