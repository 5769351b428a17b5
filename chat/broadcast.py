"""Tell every tab of a user about a change made over HTTP (another tab, the API)."""
from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .groups import FRAME, conversation_group, layer_message, user_group

log = logging.getLogger(__name__)


def to_user(user_id: Any, frame: dict[str, Any]) -> None:
    """Send `frame` to the user's tabs once the current transaction (if any) commits."""

    group = user_group(user_id)

    def send() -> None:
        async_to_sync(get_channel_layer().group_send)(group, layer_message(group, FRAME, frame=frame))

    transaction.on_commit(send)


def ended(replies: list[tuple[Any, dict[str, Any]]]) -> None:
    """Outside a web process (bootstrap): tell each ended reply's tabs, on every process, how it ended."""
    layer = get_channel_layer()
    for conversation_id, frame in replies:
        group = conversation_group(conversation_id)
        try:
            async_to_sync(layer.group_send)(group, layer_message(group, FRAME, frame=frame))
        except Exception:  # the layer is away: the replies are ended all the same, tabs see it when they resync
            log.warning("could not tell the tabs of %d ended replies", len(replies), exc_info=True)
            return
