"""Conversations and their messages: a tree per conversation, one branch shown."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    title = models.CharField(max_length=200, blank=True)
    model = models.ForeignKey("gateways.Model", on_delete=models.SET_NULL, null=True, blank=True)
    system_prompt = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    pinned = models.BooleanField(default=False)
    archived = models.BooleanField(default=False)
    # The leaf of the branch the UI shows; edits and regenerations move it.
    current_leaf = models.ForeignKey(
        "Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["owner", "-updated_at"])]

    def __str__(self) -> str:
        return self.title or str(self.id)

class Message(models.Model):
    """One turn; siblings under the same parent are edits or regenerations."""

    class Role(models.TextChoices):
        SYSTEM = "system"
        USER = "user"
        ASSISTANT = "assistant"

    class Status(models.TextChoices):
        STREAMING = "streaming"
        COMPLETE = "complete"
        CANCELLED = "cancelled"
        ERROR = "error"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="children")
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField(blank=True)
    parts = models.JSONField(default=list, blank=True)
    reasoning = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.COMPLETE, db_index=True)
    finish_reason = models.CharField(max_length=20, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_detail = models.TextField(blank=True)
    model = models.ForeignKey("gateways.Model", on_delete=models.SET_NULL, null=True, blank=True)
    model_slug = models.CharField(max_length=80, blank=True)
    ttft_ms = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    request_id = models.UUIDField(null=True, blank=True, unique=True)
    # While streaming: the channel of the process running the reply, and the
    # `seq` the checkpointed text corresponds to.
    runner = models.CharField(max_length=120, blank=True)
    live_seq = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.role} {self.id}"


def _attachment_path(instance: Attachment, filename: str) -> str:
    """Files are stored by id, never by the name the user gave (which is kept in `name`)."""
    return f"attachments/{instance.owner_id}/{instance.id}{instance.extension}"


class Attachment(models.Model):
    """An uploaded image or file (chat.uploads): its owner's until bound to the message that sends it.

    Stored under MEDIA_ROOT, which is never served as public media: the file is read
    through the owner-only API (chat.attachment_api) or by staff through the admin.
    One never bound to a message is pruned after a day (chat.tasks.prune_attachments).
    """

    class Kind(models.TextChoices):
        IMAGE = "image"
        FILE = "file"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments")
    kind = models.CharField(max_length=5, choices=Kind.choices)
    name = models.CharField(max_length=255)
    mime = models.CharField(max_length=100)
    size = models.PositiveIntegerField()  # bytes stored (after downscaling)
    file = models.FileField(upload_to=_attachment_path, max_length=255)
    text = models.TextField(blank=True)  # a file's extracted text, as the prompt gets it
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    tokens = models.PositiveIntegerField(default=0)  # estimated prompt tokens (images: as xAI bills them)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def extension(self) -> str:
        return {"image/png": ".png", "image/jpeg": ".jpg", "application/pdf": ".pdf"}.get(self.mime, ".txt")


class Share(models.Model):
    """A read-only link to a conversation's branch as it was when shared (chat.sharing)."""

    token = models.CharField(max_length=64, unique=True, editable=False)
    conversation = models.OneToOneField(Conversation, on_delete=models.CASCADE, related_name="share")
    # The last message the link shows; later messages and other branches stay private.
    leaf = models.ForeignKey(Message, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"share of {self.conversation_id}"


class Instructions(models.Model):
    """A person's custom instructions: the system message every new chat of theirs starts with (chat.presets)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_instructions")
    text = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"instructions of {self.user_id}"


class Preset(models.Model):
    """A named way to start a chat: model, system prompt and parameters.

    A person's own, or a team preset (`team`) that staff publish and everyone sees.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_presets")
    team = models.BooleanField(default=False)
    name = models.CharField(max_length=80)
    model = models.ForeignKey("gateways.Model", on_delete=models.SET_NULL, null=True, blank=True)
    system_prompt = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-team", "name"]
        indexes = [models.Index(fields=["owner", "name"]), models.Index(fields=["team", "name"])]

    def __str__(self) -> str:
        return self.name
