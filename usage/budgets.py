"""The user's budget, when accounts.budgets (team accounts) provides one; pages work without it."""
from __future__ import annotations

import logging
from typing import Any

from chat.pricing import format_usd

log = logging.getLogger(__name__)


def status_of(user: Any) -> Any | None:
    """accounts.budgets.budget_status(user), or None when budgets are not installed or none applies."""
    try:
        from accounts.budgets import budget_status
    except ImportError:
        return None
    try:
        return budget_status(user)
    except Exception:  # a budget bug must not take the usage page down with it
        log.exception("budget status of user %s failed", getattr(user, "pk", None))
        return None


def as_api(status: Any | None) -> dict[str, Any] | None:
    if status is None:
        return None
    limit_ticks = getattr(status, "limit_ticks", None)
    fraction = getattr(status, "fraction", None)
    return {
        "limit_usd": format_usd(limit_ticks) if limit_ticks is not None else None,
        "spent_usd": format_usd(getattr(status, "spent_ticks", 0) or 0),
        "limit_tokens": getattr(status, "limit_tokens", None),
        "spent_tokens": getattr(status, "spent_tokens", 0) or 0,
        "fraction": round(float(fraction), 4) if fraction is not None else None,
        "warning": bool(getattr(status, "warning", False)),
        "exceeded": bool(getattr(status, "exceeded", False)),
        "source": str(getattr(status, "source", "")),
    }
