"""The navigation shown on every server-rendered page.

Entries whose URL is not installed are left out, so an area can land on its own.
"""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

# (label, URL name, staff only)
NAV: tuple[tuple[str, str, bool], ...] = (
    ("Chat", "chat:index", False),
    ("My usage", "usage:me", False),
    ("API tokens", "api_tokens", False),
    ("People", "team:people", True),
    ("Invites", "team:invites", True),
    ("Providers", "gateways:providers", True),
    ("Gateway health", "gateways:health", True),
    ("Usage report", "usage:report", True),
)


def items(request: HttpRequest) -> list[dict[str, Any]]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    found = []
    for label, name, staff_only in NAV:
        if staff_only and not user.is_staff:
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        active = request.path == url or (url != "/" and request.path.startswith(url))
        found.append({"label": label, "url": url, "active": active, "staff": staff_only})
    return found


def nav(request: HttpRequest) -> dict[str, Any]:
    """Template context processor: `nav_items`."""
    return {"nav_items": items(request)}
