"""Tell every tab of a user about a change made over HTTP (another tab, the API)."""
from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .groups import FRAME, layer_message, user_group


def to_user(user_id: Any, frame: dict[str, Any]) -> None:
    """Send `frame` to the user's tabs once the current transaction (if any) commits."""

    group = user_group(user_id)

    def send() -> None:
        async_to_sync(get_channel_layer().group_send)(group, layer_message(group, FRAME, frame=frame))

    transaction.on_commit(send)
