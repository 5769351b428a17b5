"""Mounted at /v1/ by grokweb.urls. A trailing slash is accepted; any other path answers OpenAI's 404."""
from django.urls import re_path

from . import views

urlpatterns = [
    re_path(r"^models/?$", views.models, name="models"),
    re_path(r"^models/(?P<slug>[^/]+)/?$", views.model, name="model"),
    re_path(r"^chat/completions/?$", views.chat_completions, name="chat_completions"),
    re_path(r"^(?P<path>.*)$", views.not_found),
]
