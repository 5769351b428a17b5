"""E-mails about sign-ups that wait for approval: to the admins, then to the person once approved.

Sent with the project's e-mail backend (console by default, SMTP from `EMAIL_URL`). A mail
that cannot be sent is logged and never undoes the sign-up or the approval.
"""
from __future__ import annotations

import logging

from django.core.mail import send_mail, send_mass_mail

from .models import User

log = logging.getLogger(__name__)


def _admins_to_tell() -> list[str]:
    return list(User.objects.filter(is_staff=True, status=User.Status.ACTIVE).exclude(email="")
                .values_list("email", flat=True))


def signup_waiting(person: User, people_url: str) -> int:
    """Tell every active admin with an address that `person` waits for approval; how many were told."""
    admins = _admins_to_tell()
    if not admins:
        return 0
    subject = f"Grokweb: {person.username} is waiting for approval"
    body = (f"{person.username} ({person.email or 'no e-mail'}) signed up and waits for approval.\n\n"
            f"Approve or disable them on the People page: {people_url}\n")
    try:
        send_mass_mail([(subject, body, None, [address]) for address in admins])
    except Exception:
        log.exception("could not tell the admins about the sign-up of %s", person.username)
        return 0
    return len(admins)


def approved(person: User, sign_in_url: str) -> bool:
    """Tell `person` their account is active; False when they gave no address or sending failed."""
    if not person.email:
        return False
    body = f"Hello {person.username},\n\nan admin approved your Grokweb account. Sign in at {sign_in_url}\n"
    try:
        send_mail("Your Grokweb account is ready", body, None, [person.email])
    except Exception:
        log.exception("could not tell %s about their approval", person.username)
        return False
    return True
