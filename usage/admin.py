from django.contrib import admin

from .models import Price, RepriceRun, UsageDaily


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    """Prices are edited by adding a row with a new date: a ledger row keeps the cost it was written with."""

    list_display = ("model", "provider", "effective_from", "input", "cached_input", "output", "note")
    list_filter = ("provider", "model")
    ordering = ("provider", "model", "-effective_from")
    search_fields = ("model__slug", "provider__name")


@admin.register(UsageDaily)
class UsageDailyAdmin(admin.ModelAdmin):
    list_display = ("day", "user", "provider", "model_slug", "purpose", "calls", "total_tokens", "cost_ticks")
    list_filter = ("purpose", "provider")
    date_hierarchy = "day"

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(RepriceRun)
class RepriceRunAdmin(admin.ModelAdmin):
    list_display = ("started_at", "date_from", "date_to", "provider", "model_slug", "dry_run", "rows_changed",
                    "old_cost_ticks", "new_cost_ticks", "invoked_by")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
