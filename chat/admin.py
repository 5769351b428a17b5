"""Django admin for the chat data. Provider keys are write-only: never rendered back."""
from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from gateways import audit
from gateways.discovery import refresh_availability
from gateways.forms import ProviderForm
from gateways.models import AuditEntry

from .models import Conversation, Message, Model, Provider, Route, UsageRecord
from .pricing import format_usd


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    """The same write-only key form as the Providers page; saves are audited there too."""

    form = ProviderForm
    list_display = ("name", "kind", "base_url", "enabled", "has_key", "from_env", "edited_by_hand")
    list_filter = ("kind", "enabled")

    @admin.display(boolean=True, description="key set")
    def has_key(self, provider: Provider) -> bool:
        return bool(provider.api_key_encrypted)

    def save_model(self, request: Any, obj: Provider, form: Any, change: bool) -> None:
        form.save_by(request.user)
        refresh_availability()

    def delete_model(self, request: Any, obj: Provider) -> None:
        audit.record(obj, request.user, AuditEntry.Action.DELETED)
        super().delete_model(request, obj)
        refresh_availability()

    def delete_queryset(self, request: Any, queryset: Any) -> None:
        for provider in queryset:
            audit.record(provider, request.user, AuditEntry.Action.DELETED)
        super().delete_queryset(request, queryset)
        refresh_availability()


class RouteInline(admin.TabularInline):
    model = Route
    extra = 0
    fields = ("provider", "upstream_id", "priority", "enabled", "available")


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "provider", "upstream_id", "reasoning", "vision", "price_input",
                    "price_cached_input", "price_output", "enabled", "available", "is_default")
    list_filter = ("provider", "reasoning", "enabled")
    list_editable = ("enabled",)
    search_fields = ("slug", "name", "upstream_id")
    inlines = [RouteInline]
    # The catalog price only seeds the dated prices (usage.Price), which are what calls are billed at.
    readonly_fields = ("price_input", "price_cached_input", "price_output", "dated_prices")

    @admin.display(description="Prices billed")
    def dated_prices(self, obj: Model) -> str:
        url = reverse("admin:usage_price_changelist") + f"?model__id__exact={obj.pk}"
        return format_html('<a href="{}">Dated prices of this model</a> (the fields above are the catalog '
                           'price it started with; change a price by adding a dated one)', url)

    def save_formset(self, request: Any, form: Any, formset: Any, change: bool) -> None:
        """Route edits here are audited like those on the Routes page, and availability follows them."""
        super().save_formset(request, form, formset, change)
        if formset.model is not Route:
            return
        for route, fields in formset.changed_objects:
            audit.record(route.provider, request.user, AuditEntry.Action.EDITED,
                         [f"route {route.upstream_id}: {name}" for name in fields])
        for route in formset.new_objects:
            audit.record(route.provider, request.user, AuditEntry.Action.EDITED, [f"route {route.upstream_id} added"])
        for route in formset.deleted_objects:
            audit.record(route.provider, request.user, AuditEntry.Action.EDITED,
                         [f"route {route.upstream_id} removed"])
        refresh_availability()


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ("role", "status", "model_slug", "content", "created_at")
    readonly_fields = fields
    show_change_link = True


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("__str__", "owner", "model", "updated_at", "pinned", "archived")
    list_filter = ("archived", "pinned")
    search_fields = ("title", "owner__username")
    raw_id_fields = ("owner", "current_leaf")
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "conversation", "role", "status", "model_slug", "error_code", "created_at")
    list_filter = ("role", "status", "error_code")
    raw_id_fields = ("conversation", "parent", "model")


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "purpose", "model_slug", "outcome", "prompt_tokens", "cached_tokens",
                    "completion_tokens", "reasoning_tokens", "cost", "estimated", "reconciles")
    list_filter = ("purpose", "outcome", "estimated", "reconciles", "model_slug")
    date_hierarchy = "created_at"
    raw_id_fields = ("user", "conversation", "message", "model", "provider")

    @admin.display(description="cost (USD)")
    def cost(self, record: UsageRecord) -> str:
        return format_usd(record.cost_ticks)

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False  # the ledger is append-only
