from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group

from . import tokens
from .models import ApiToken, GroupPolicy, Invite, ModelAccess, SiteSettings, User


@admin.register(User)
class AccountAdmin(UserAdmin):
    """Django's user admin; `status` replaces `is_active` (which mirrors it)."""

    list_display = ("username", "email", "status", "is_staff", "last_login")
    list_filter = ("status", "is_staff", "groups")
    fieldsets = tuple(
        (name, {**opts, "fields": tuple(f for f in opts["fields"] if f != "is_active")})
        for name, opts in UserAdmin.fieldsets  # type: ignore[union-attr]
    ) + (("Team", {"fields": ("status", "budget_usd", "budget_tokens", "budget_reset_at")}),)


class PolicyInline(admin.StackedInline):
    model = GroupPolicy
    can_delete = False
    verbose_name_plural = "Budget and rate limits"


admin.site.unregister(Group)


@admin.register(Group)
class TeamGroupAdmin(GroupAdmin):
    inlines = [PolicyInline]


@admin.register(ModelAccess)
class ModelAccessAdmin(admin.ModelAdmin):
    list_display = ("model",)
    filter_horizontal = ("groups",)


@admin.register(SiteSettings)
class SiteSettingsAdmin(admin.ModelAdmin):
    list_display = ("signup_mode", "allowed_domains", "sharing_enabled", "updated_at")


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    list_display = ("email", "group", "uses", "max_uses", "expires_at", "revoked", "created_at")
    readonly_fields = ("token_hash", "uses", "created_by")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made on the API tokens page (or by manage.py create_api_token); here they are only revoked."""

    list_display = ("name", "user", "hint", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "user__username", "hint")
    readonly_fields = ("user", "name", "hint", "model_slugs", "expires_at", "created_at", "created_by",
                       "last_used_at", "last_used_ip", "revoked_at", "revoked_by")
    exclude = ("token_hash",)
    actions = ["revoke"]

    def has_add_permission(self, request: Any) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens (they stop working at once)")
    def revoke(self, request: Any, queryset: Any) -> None:
        revoked = sum(tokens.revoke(token, by=request.user) for token in queryset)
        self.message_user(request, f"{revoked} token(s) revoked.")
