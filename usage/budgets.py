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


def _usd(ticks: int | None) -> str | None:
    return format_usd(ticks) if ticks is not None else None


def as_api(status: Any | None) -> dict[str, Any] | None:
    """The budget as GET /api/me/budget/ shows it (accounts.budgets.BudgetStatus.as_dict's fields)."""
    if status is None:
        return None
    fraction = getattr(status, "fraction", None)
    return {
        "source": str(getattr(status, "source", "")),
        "limit_usd": _usd(getattr(status, "limit_ticks", None)),
        "spent_usd": format_usd(getattr(status, "spent_ticks", 0) or 0),
        "remaining_usd": _usd(getattr(status, "remaining_ticks", None)),
        "limit_tokens": getattr(status, "limit_tokens", None),
        "spent_tokens": getattr(status, "spent_tokens", 0) or 0,
        "remaining_tokens": getattr(status, "remaining_tokens", None),
        "fraction": round(float(fraction), 4) if fraction is not None else None,
        "warning": bool(getattr(status, "warning", False)),
        "exceeded": bool(getattr(status, "exceeded", False)),
    }
