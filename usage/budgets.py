"""The user's budget as usage pages and `/api/usage/me` show it: the same shape as `/api/me/budget/`."""
from __future__ import annotations

import logging
from typing import Any

from accounts.budgets import budget_status

log = logging.getLogger(__name__)


def budget_of(user: Any) -> dict[str, Any] | None:
    """`BudgetStatus.as_dict()` for this month, or None when no budget applies.

    A budget bug must not take the usage page down with it: it is logged and the page
    is shown without the budget card.
    """
    try:
        status = budget_status(user)
    except Exception:
        log.exception("budget status of user %s failed", getattr(user, "pk", None))
        return None
    return status.as_dict() if status is not None else None
