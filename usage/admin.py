from typing import Any

from django.contrib import admin

from .models import RepriceRun, UsageDaily, UsageRecord
from .money import format_usd


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
