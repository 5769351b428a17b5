"""Django admin for gateways: providers (write-only keys), models and routes, dated prices, the logs."""
from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from . import audit
from .discovery import refresh_availability
from .forms import ProviderForm
from .models import Attempt, AuditEntry, ListedModel, Model, Price, Provider, Route


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


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    """The same write-only key form as the Providers page; saves are audited there too."""

    form = ProviderForm
    list_display = ("name", "kind", "base_url", "enabled", "has_key", "from_env", "edited_by_hand")
    list_filter = ("kind", "enabled")

    @admin.display(boolean=True, description="key set")
    def has_key(self, provider: Provider) -> bool:
        return bool(provider.api_key_encrypted)

    def get_form(self, request: Any, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        """The form knows who edits (GATEWAY_KEYS_SUPERUSERS_ONLY): the admin builds it without a user."""
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

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
    # The catalog price only seeds the dated prices (gateways.Price), which are what calls are billed at.
    readonly_fields = ("price_input", "price_cached_input", "price_output", "dated_prices")

    @admin.display(description="Prices billed")
    def dated_prices(self, obj: Model) -> str:
        url = reverse("admin:gateways_price_changelist") + f"?model__id__exact={obj.pk}"
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


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    """Prices are edited by adding a row with a new date: a ledger row keeps the cost it was written with."""

    list_display = ("model", "provider", "effective_from", "input", "cached_input", "output", "note")
    list_filter = ("provider", "model")
    ordering = ("provider", "model", "-effective_from")
    search_fields = ("model__slug", "provider__name")
