"""The chat's answers to signals from the apps below it."""
from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models.signals import post_delete, pre_delete
from django.dispatch import receiver

from accounts import gate
from accounts.signals import account_closed

from .groups import ACCOUNT_CLOSED, layer_message, user_group
from .models import Attachment, Conversation, Message
from .uploads import remove_files


@receiver(account_closed, dispatch_uid="chat.close_tabs")
def close_tabs(sender: Any, user_id: int, code: int, **kwargs: Any) -> None:
    """Close every websocket of this user, on every web process (the channel layer's user group)."""
    layer = get_channel_layer()
    if layer is not None:
        group = user_group(user_id)
        async_to_sync(layer.group_send)(group, layer_message(group, ACCOUNT_CLOSED, code=code))


@receiver(pre_delete, sender=Conversation, dispatch_uid="chat.release_deleted_replies")
def release_deleted_replies(sender: Any, instance: Conversation, **kwargs: Any) -> None:
    """A conversation deleted while a reply streams (API, admin, a deleted user) frees that reply's slot."""
    live = instance.messages.filter(status=Message.Status.STREAMING).values_list("id", flat=True)
    gate.release(*live)


@receiver(post_delete, sender=Attachment, dispatch_uid="chat.delete_attachment_file")
def delete_attachment_file(sender: Any, instance: Attachment, **kwargs: Any) -> None:
    """An attachment's file goes with its row (a pruned upload, a deleted conversation or user), once committed."""
    if instance.file:
        storage, name = instance.file.storage, instance.file.name
        transaction.on_commit(lambda: remove_files(storage, name))
