"""Django admin for conversations, messages and attachments."""
from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html

from .attachment_api import file_response
from .models import Attachment, Conversation, Message


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


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    """Read-only: staff may look at an upload (through the admin's own view, never a public media URL)."""

    list_display = ("name", "owner", "kind", "mime", "size", "tokens", "sent", "created_at")
    list_filter = ("kind", "mime")
    search_fields = ("name", "owner__username")
    fields = ("name", "owner", "message", "kind", "mime", "size", "width", "height", "tokens", "open_file",
              "created_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(boolean=True)
    def sent(self, obj: Attachment) -> bool:
        return obj.message_id is not None

    @admin.display(description="file")
    def open_file(self, obj: Attachment) -> str:
        url = reverse("admin:chat_attachment_file", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, "Open" if obj.kind == Attachment.Kind.IMAGE else "Download")

    def get_urls(self) -> list[Any]:
        serve = self.admin_site.admin_view(self.serve_file)
        return [path("<uuid:object_id>/file/", serve, name="chat_attachment_file"), *super().get_urls()]

    def serve_file(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        attachment = Attachment.objects.filter(pk=object_id).first()
        if attachment is None or not self.has_view_permission(request, attachment):
            raise Http404
        return file_response(attachment)
