"""Reach a user's open tabs: when staff disable someone, every socket of theirs closes at once.

Without this a disabled user's open tab would keep its socket until it reconnects
(new replies are refused anyway: accounts.gate re-reads the status). The consumer
(chat.consumers, `account_closed`) closes with the code it is given, so the tab
goes to the sign-in page, which says why.
"""
from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from chat.groups import user_group

EVENT = "account.closed"


def close_tabs(user_id: int, code: int) -> None:
    """Close every websocket of this user, on every web process (the channel layer's user group)."""
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(user_group(user_id), {"type": EVENT, "code": code})
