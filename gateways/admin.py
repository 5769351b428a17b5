"""Read-only Django admin views of the audit log and the attempts log."""
from __future__ import annotations

from typing import Any

from django.contrib import admin

from .models import Attempt, AuditEntry, ListedModel


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnly):
    list_display = ("at", "actor_name", "provider_name", "action", "fields")
    list_filter = ("action",)


@admin.register(Attempt)
class AttemptAdmin(ReadOnly):
    list_display = ("at", "provider", "model_slug", "outcome", "ttft_ms")
    list_filter = ("outcome", "provider")


@admin.register(ListedModel)
class ListedModelAdmin(admin.ModelAdmin):
    list_display = ("provider", "upstream_id", "status", "model", "listed", "last_seen")
    list_filter = ("status", "provider", "listed")
