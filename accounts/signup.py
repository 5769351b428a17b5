"""Self sign-up under the site's mode: closed (invite only), approval (pending until approved) or open."""
from __future__ import annotations

from .models import SiteSettings, User


def mode() -> str:
    return SiteSettings.load().mode


def domains() -> list[str]:
    return SiteSettings.load().domains


def register(*, username: str, email: str, password: str, signup_mode: str) -> User:
    """Create the account: active when sign-up is open, pending when it needs approval."""
    if signup_mode not in ("open", "approval"):
        raise ValueError(f"sign-up is {signup_mode}")
    status = User.Status.ACTIVE if signup_mode == "open" else User.Status.PENDING
    return User.objects.create_user(username, email, password, status=status)
