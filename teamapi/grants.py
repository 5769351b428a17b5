"""What a token lets its call do, read once per process and kept until something changes (accounts.token_cache).

A call's token check and its owner's limits are the same answer call after call; kept per token
hash, a warm call reads no database row for them and needs no thread hop (`cached`). A miss, a
refused token and an expired one go to the database (`load`), as they did before the cache.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accounts import budgets, token_cache, tokens
from accounts.limits import Limits, limits_for


@dataclass(frozen=True)
class Grant:
    """A usable token (its owner loaded: shared, never change it), the owner's limits, and whether a budget applies."""

    token: Any  # accounts.models.ApiToken
    limits: Limits
    budgeted: bool

    @property
    def user(self) -> Any:
        return self.token.user


def cached(raw: str) -> Grant | None:
    """The grant for this Authorization value if this process has it and nothing changed since; no database read.

    Raises TokenRefused for a value that is not a token at all, or a kept token that has expired.
    """
    if not tokens.well_formed(raw):
        raise tokens.TokenRefused("invalid")
    grant: Grant | None = token_cache.get(tokens.digest(raw), token_cache.version())
    if grant is not None and grant.token.expired:
        raise tokens.TokenRefused("expired")
    return grant


def load(raw: str) -> Grant:
    """Check the token in the database (TokenRefused if it cannot be used) and keep the answer."""
    current = token_cache.version()  # read first: a change committed during the reads below bumps it
    token = tokens.authenticate(raw)
    found = limits_for(token.user)
    grant = Grant(token, found, bool(budgets.budgets_for(token.user, found.policies)))
    token_cache.put(token.token_hash, grant, current)
    return grant
