"""The gate of the team pages (People, Invites): anonymous users sign in, members get the 403 page."""
from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import user_passes_test
from django.core.exceptions import PermissionDenied


def _staff(user: Any) -> bool:
    if user.is_authenticated and not user.is_staff:
        raise PermissionDenied("Administrators only")  # templates/403.html
    return bool(user.is_authenticated)


staff_required = user_passes_test(_staff)
