"""Gateway bookkeeping: who changed a provider, what each provider lists, every upstream attempt."""
from __future__ import annotations

from django.conf import settings
from django.db import models

from chat.models import Model, Provider, Route


class AuditEntry(models.Model):
    """A change to a provider. Names the fields changed, never a key's value ("key changed")."""

    class Action(models.TextChoices):
        CREATED = "created"
        EDITED = "edited"
        DISABLED = "disabled"
        ENABLED = "enabled"
        KEY_CHANGED = "key changed"
        KEYS_ROTATED = "keys rotated"
        FROM_ENVIRONMENT = "from environment"
        DELETED = "deleted"

    provider = models.ForeignKey(Provider, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    provider_name = models.CharField(max_length=80)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    fields = models.JSONField(default=list, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name or 'system'} {self.action} {self.provider_name}"


class ListedModel(models.Model):
    """An id a provider's `GET /models` listed, and what we made of it."""

    class Status(models.TextChoices):
        MAPPED = "mapped"  # routes to a catalog model
        UNMAPPED = "unmapped"  # waits for an admin: map or ignore
        IGNORED = "ignored"

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="listed_models")
    upstream_id = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UNMAPPED)
    model = models.ForeignKey(Model, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    listed = models.BooleanField(default=True, help_text="In the provider's latest list.")
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider", "upstream_id"]
        constraints = [models.UniqueConstraint(fields=["provider", "upstream_id"], name="listed_model_unique")]

    def __str__(self) -> str:
        return f"{self.provider.name}: {self.upstream_id} ({self.status})"


class Attempt(models.Model):
    """One upstream call attempt (a served reply, or a failure before failover). Health reads these."""

    provider = models.ForeignKey(Provider, on_delete=models.SET_NULL, null=True, related_name="+")
    route = models.ForeignKey(Route, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    model_slug = models.CharField(max_length=80)
    outcome = models.CharField(max_length=40, help_text="`ok` or an error code")
    ttft_ms = models.PositiveIntegerField(null=True, blank=True)
    at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["provider", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S} {self.model_slug} {self.outcome}"
