from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group

from .models import GroupPolicy, Invite, ModelAccess, SiteSettings, User


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
