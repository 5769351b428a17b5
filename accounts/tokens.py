"""Personal access tokens for the Team API: made, shown once, checked, revoked.

A token is `grokweb_` + 32 random base62 characters (about 190 bits) + a 6-character
base62 CRC32 of those 32. The prefix lets secret scanners find leaked tokens and the
checksum lets them (and us, before any database read) tell a real token from a typo.
Only the SHA-256 of the whole token is stored: a high-entropy token needs no slow
hash, and one indexed lookup per request finds it. The stored hash is compared again in
constant time, so what the index lookup leaks is about hashes, never about the token.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import string
import zlib
from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from . import token_cache
from .models import ApiToken
from .status import MESSAGES, refusal

PREFIX = "grokweb_"
ALPHABET = string.digits + string.ascii_letters
BODY_CHARS = 32
CHECK_CHARS = 6
LENGTH = len(PREFIX) + BODY_CHARS + CHECK_CHARS
# Last-used time and address are written at most this often per token (not on every request).
TOUCH_EVERY = dt.timedelta(seconds=60)
_CHARS = frozenset(ALPHABET)

REFUSALS = {
    "invalid": "Incorrect API token. Create one on the API tokens page of Grokweb and send it as "
               "`Authorization: Bearer <token>`.",
    "revoked": "This API token was revoked. Create a new one on the API tokens page.",
    "expired": "This API token has expired. Create a new one on the API tokens page.",
    **MESSAGES,  # pending, disabled: the owner's account
}


class TokenRefused(Exception):
    """Why a token cannot be used: invalid, revoked, expired (the token), pending or disabled (its owner)."""

    def __init__(self, reason: str) -> None:
        super().__init__(REFUSALS[reason])
        self.reason = reason
        self.detail = REFUSALS[reason]


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode("ascii")), CHECK_CHARS)


def generate() -> str:
    """A new random token (not stored anywhere yet)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_CHARS))
    return PREFIX + body + _checksum(body)


def well_formed(raw: str) -> bool:
    """Prefix, length, alphabet and checksum: a typo or a foreign key never reaches the database."""
    if len(raw) != LENGTH or not raw.startswith(PREFIX):
        return False
    body, check = raw[len(PREFIX):-CHECK_CHARS], raw[-CHECK_CHARS:]
    if not _CHARS.issuperset(body) or not _CHARS.issuperset(check):
        return False
    return hmac.compare_digest(_checksum(body), check)


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("ascii", "replace")).hexdigest()


def create(user: Any, name: str, *, expires_at: dt.datetime | None = None, model_slugs: Iterable[str] = (),
           created_by: Any = None) -> tuple[ApiToken, str]:
    """A new token for `user` and its plaintext, to show once: only the hash is kept."""
    raw = generate()
    token = ApiToken.objects.create(
        user=user, name=name.strip()[:80] or "API token", token_hash=digest(raw), hint=raw[:len(PREFIX) + 4],
        model_slugs=sorted(set(model_slugs)), expires_at=expires_at, created_by=created_by,
    )
    return token, raw


def authenticate(raw: str) -> ApiToken:
    """The usable token (its owner loaded) for this plaintext, or TokenRefused: one query."""
    if not well_formed(raw):
        raise TokenRefused("invalid")
    wanted = digest(raw)
    token = ApiToken.objects.select_related("user").filter(token_hash=wanted).first()
    if token is None or not hmac.compare_digest(token.token_hash, wanted):
        raise TokenRefused("invalid")
    if token.revoked_at is not None:
        raise TokenRefused("revoked")
    if token.expired:
        raise TokenRefused("expired")
    reason = refusal(token.user)
    if reason is not None:
        raise TokenRefused(reason)
    return token


def touch_due(token: ApiToken, address: str | None, now: dt.datetime | None = None) -> bool:
    """Whether this use must be recorded: a minute since the last record, or from another address."""
    now = now or timezone.now()
    fresh = token.last_used_at is not None and now - token.last_used_at < TOUCH_EVERY
    return not (fresh and token.last_used_ip == address)


def touch(token: ApiToken, address: str | None, now: dt.datetime | None = None) -> None:
    """Record when and from where the token was last used; a write at most once a minute per token."""
    now = now or timezone.now()
    if not touch_due(token, address, now):
        return
    token.last_used_at, token.last_used_ip = now, address
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=address)


def allows(token: ApiToken, slug: str) -> bool:
    """Whether the token's own model list lets it use this model (the owner's access is checked apart)."""
    return not token.model_slugs or slug in token.model_slugs


def visible_to(user: Any) -> QuerySet[ApiToken]:
    """The tokens a person may see and revoke: their own; staff see everyone's."""
    tokens = ApiToken.objects.select_related("user", "revoked_by").order_by("-created_at")
    return tokens if user.is_staff else tokens.filter(user=user)


def revoke(token: ApiToken, by: Any = None) -> bool:
    """Stop a token at once (its next request answers 401, in every process); False when it was already revoked."""
    done = bool(ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=by))
    if done:  # an update sends no signal: the per-process checks (accounts.token_cache) are renewed here
        token_cache.changed_on_commit()
    return done
