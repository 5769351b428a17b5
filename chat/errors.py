"""Client-supplied ids. The error codes and `ChatError` are gateways.wire.codes (every layer refuses with them)."""
from __future__ import annotations

from uuid import UUID


def as_uuid(value: object) -> UUID | None:
    """Parse a client-supplied id; None when it is not a UUID."""
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None
