"""Typed events the upstream client yields, whatever gateway sent them.

The generation runner consumes only these, so a gateway's wire quirks stop at
`gateways/wire/`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ContentDelta:
    """Visible answer text to append."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """Reasoning trace text to append (grok-3-mini, grok-code-fast-1 summaries)."""

    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """A usage object exactly as the gateway sent it; normalized later (usage.py).

    `meta` carries AI/ML API's top-level `meta.usage` when present.
    """

    raw: dict[str, Any]
    meta: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Finish:
    """The choice finished: `stop`, `length` or `content_filter` (other APIs' reasons are read as one of
    these: chunks.finish_reason)."""

    reason: str


UpstreamEvent = ContentDelta | ReasoningDelta | Usage | Finish

# The events that put text in front of the user (a tuple: isinstance checks it per token).
TEXT_EVENTS = (ContentDelta, ReasoningDelta)
