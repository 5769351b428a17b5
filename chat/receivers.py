"""The chat's answers to signals from the apps below it."""
from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.dispatch import receiver

from accounts.signals import account_closed

from .groups import ACCOUNT_CLOSED, layer_message, user_group


@receiver(account_closed, dispatch_uid="chat.close_tabs")
def close_tabs(sender: Any, user_id: int, code: int, **kwargs: Any) -> None:
    """Close every websocket of this user, on every web process (the channel layer's user group)."""
    layer = get_channel_layer()
    if layer is not None:
        group = user_group(user_id)
        async_to_sync(layer.group_send)(group, layer_message(group, ACCOUNT_CLOSED, code=code))
