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
LAYER_LOST = "layer.lost"  # the process missed frames (the layer was away): close the socket to resync
LAYER_LOST_CODE = 4503  # the close code for it: the browser reconnects and resubscribes (static/js/socket.js)
ACCOUNT_CLOSED = "account.closed"  # close a socket with the `code` given (accounts.signals.account_closed)


def layer_message(group: str, type_: str, **fields: Any) -> dict[str, Any]:
    """A message for `group` sent through the layer from outside a hub (a worker, a signal).

    It names its group: the layer hands it to each web process's hub, which passes it to
    that process's sockets in the group (chat.fanout).
    """
    return {"type": type_, "group": group, **fields}
