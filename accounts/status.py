"""Who may use Grokweb right now, and how each refusal is signalled.

Websocket close codes (documented in docs/protocol.md):
4401 not signed in, 4403 account disabled, 4423 account pending approval.
The JSON API answers 401 (not signed in) or 403 with `code` account_disabled /
account_pending; pages sign the user out and explain on the sign-in page.
"""
from __future__ import annotations

from typing import Any

CLOSE_ANONYMOUS = 4401
CLOSE_DISABLED = 4403
CLOSE_PENDING = 4423

MESSAGES = {
    "pending": "Your account is waiting for an administrator's approval.",
    "disabled": "Your account has been disabled. Ask an administrator if you think this is a mistake.",
}


def refusal(user: Any) -> str | None:
    """None when the user may proceed, else "pending" or "disabled" (anonymous users are not judged here)."""
    if user is None or not user.is_authenticated:
        return None
    status = getattr(user, "status", "active")
    if status == "active" and user.is_active:
        return None
    return "pending" if status == "pending" else "disabled"


def close_code(user: Any) -> int | None:
    """The websocket close code for this user, or None when the socket may open."""
    if user is None or not user.is_authenticated:
        return CLOSE_ANONYMOUS
    reason = refusal(user)
    if reason is None:
        return None
    return CLOSE_PENDING if reason == "pending" else CLOSE_DISABLED
