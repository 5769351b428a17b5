"""Encryption at rest for provider API keys (Fernet from `cryptography`).

The key comes from FIELD_ENCRYPTION_KEY (comma-separated for rotation: the
first encrypts, all decrypt) or is derived from SECRET_KEY when unset.
"""
from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _fernet_key(material: str) -> bytes:
    """Accept a real Fernet key as is; stretch anything else into one."""
    try:
        if len(base64.urlsafe_b64decode(material.encode())) == 32:
            return material.encode()
    except ValueError:
        pass
    digest = hashlib.sha256(b"grokweb-field-encryption:" + material.encode()).digest()
    return base64.urlsafe_b64encode(digest)


@lru_cache(maxsize=4)
def _box(configured: str, secret_key: str) -> MultiFernet:
    materials = [m.strip() for m in configured.split(",") if m.strip()] or [secret_key]
    return MultiFernet([Fernet(_fernet_key(m)) for m in materials])


def _current() -> MultiFernet:
    return _box(settings.FIELD_ENCRYPTION_KEY, settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode() if plaintext else ""


def decrypt(token: str) -> str:
    """Decrypt, or raise ValueError without echoing the token."""
    if not token:
        return ""
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("API key cannot be decrypted with the configured key") from exc


def materials(configured: str) -> list[str]:
    return [m.strip() for m in configured.split(",") if m.strip()]


def rekey(token: str, new: list[str], old: list[str]) -> str:
    """Decrypt with any of `new` + `old`, encrypt with `new[0]` (MultiFernet.rotate). Raises ValueError."""
    if not token:
        return ""
    if not new:
        raise ValueError("no new key given")
    box = MultiFernet([Fernet(_fernet_key(m)) for m in dict.fromkeys([*new, *old])])
    try:
        rotated = box.rotate(token.encode())
    except InvalidToken as exc:
        raise ValueError("API key cannot be decrypted with the old keys given") from exc
    # MultiFernet.rotate encrypts with its first key: `new[0]`.
    return rotated.decode()
