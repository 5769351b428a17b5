"""Test helper: what a coalescing reader hands over, from the events a token-by-token reader gives."""
from __future__ import annotations

from gateways.wire.events import ContentDelta, UpstreamEvent


def joined(events: list[UpstreamEvent]) -> list[UpstreamEvent]:
    """Each run of answer text as one delta: coalesced reads give the tokens of one read as one delta."""
    out: list[UpstreamEvent] = []
    for event in events:
        if isinstance(event, ContentDelta) and out and isinstance(out[-1], ContentDelta):
            out[-1] = ContentDelta(out[-1].text + event.text)
        else:
            out.append(event)
    return out
