"""Channel-layer group names, in one place so producers and consumers agree."""
from __future__ import annotations

from typing import Any


def conversation_group(conversation_id: Any) -> str:
    """Every tab subscribed to a conversation, on any web process."""
    return f"conv.{conversation_id}"


def user_group(user_id: Any) -> str:
    """Every tab of a user: sidebar updates such as new titles."""
    return f"user.{user_id}"


FRAME = "chat.frame"  # the layer message type that carries one protocol frame
ACCOUNT_CLOSED = "account.closed"  # close a socket with the `code` given (accounts.signals.account_closed)
