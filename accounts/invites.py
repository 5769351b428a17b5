"""Invite links: created by staff, accepted once (or up to `max_uses`), never after expiry.

The link carries a random token; only its SHA-256 is stored, so a database
reader cannot use pending invites, and a tampered token simply finds nothing.
"""
from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from .models import Invite, User, hash_token


class InviteRefused(Exception):
    """Why an invite link cannot be used: `reason` is invalid, expired, used or revoked."""

    def __init__(self, reason: str, invite: Invite | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.invite = invite


def create(*, created_by: Any, expires_at: Any, email: str = "", group: Any = None, budget_usd: Decimal | None = None,
           budget_tokens: int | None = None, max_uses: int = 1, note: str = "") -> tuple[Invite, str]:
    """A new invite and its token (shown once: only the hash is kept)."""
    token = secrets.token_urlsafe(32)
    invite = Invite.objects.create(
        token_hash=hash_token(token), email=email.strip(), group=group, budget_usd=budget_usd,
        budget_tokens=budget_tokens, max_uses=max_uses, expires_at=expires_at, note=note, created_by=created_by,
    )
    return invite, token


def check(invite: Invite | None) -> Invite:
    if invite is None:
        raise InviteRefused("invalid")
    if invite.revoked:
        raise InviteRefused("revoked", invite)
    if invite.expires_at <= timezone.now():
        raise InviteRefused("expired", invite)
    if invite.uses >= invite.max_uses:
        raise InviteRefused("used", invite)
    return invite


def find(token: str) -> Invite:
    """The usable invite for this token, or InviteRefused."""
    if not token or len(token) > 100:
        raise InviteRefused("invalid")
    return check(Invite.objects.select_related("group").filter(token_hash=hash_token(token)).first())


def accept(token: str, *, username: str, email: str, password: str) -> User:
    """Create an active account from the invite, atomically counting the use (two tabs cannot both use it)."""
    with transaction.atomic():
        invite = check(Invite.objects.select_for_update().filter(token_hash=hash_token(token)).first())
        user = User.objects.create_user(username, email, password, status=User.Status.ACTIVE,
                                        budget_usd=invite.budget_usd, budget_tokens=invite.budget_tokens)
        if invite.group_id:
            user.groups.add(invite.group_id)
        invite.uses += 1
        invite.save(update_fields=["uses"])
    return user


def revoke(invite: Invite) -> None:
    invite.revoked = True
    invite.save(update_fields=["revoked"])
