"""Django admin for conversations and messages."""
from __future__ import annotations

from django.contrib import admin

from .models import Conversation, Message


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
