"""Accounts: users with a status, site sign-up settings, invites, group policies.

`User.status` is the source of truth for who may use Grokweb; `is_active`
mirrors it (active <=> status "active") so Django's own checks (admin,
password reset) agree. Budgets and rate limits live in accounts.budgets and
accounts.limits; the rows they read are here.
"""
from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser, Group
from django.db import models, transaction
from django.utils import timezone

from .usernames import SafeUsernameValidator

USD = {"max_digits": 12, "decimal_places": 4, "null": True, "blank": True}


class User(AbstractUser):
    """A team member; `is_staff` marks the team's admins."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending approval"
        ACTIVE = "active", "Active"
        DISABLED = "disabled", "Disabled"

    username_validator = SafeUsernameValidator()
    username = models.CharField(
        "username", max_length=150, unique=True, validators=[username_validator],
        help_text="Required. 150 characters or fewer: letters, digits and @ . + - _, not starting with = + - @.",
        error_messages={"unique": "A user with that username already exists."},
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    # Per-user budget override: when either is set, group budgets do not apply to this user.
    budget_usd = models.DecimalField(**USD, help_text="Monthly limit in USD (overrides group budgets)")
    budget_tokens = models.BigIntegerField(null=True, blank=True, help_text="Monthly limit in tokens")
    budget_reset_at = models.DateTimeField(
        null=True, blank=True, help_text="Spend before this moment no longer counts (a staff 'reset')"
    )

    class Meta:
        db_table = "accounts_user"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.is_active = self.status == self.Status.ACTIVE
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "status" in update_fields and "is_active" not in update_fields:
            kwargs["update_fields"] = [*update_fields, "is_active"]
        super().save(*args, **kwargs)
        if self.status == self.Status.DISABLED and (update_fields is None or "status" in update_fields):
            # Wherever someone is disabled (People, Admin → Users, a script), their open tabs close now.
            from .signals import account_closed
            from .status import CLOSE_DISABLED

            user_id = self.pk
            transaction.on_commit(lambda: account_closed.send(User, user_id=user_id, code=CLOSE_DISABLED))

    @property
    def has_budget_override(self) -> bool:
        return self.budget_usd is not None or self.budget_tokens is not None


class SiteSettings(models.Model):
    """One row (pk=1): what an admin chose; blank fields fall back to the environment."""

    class Mode(models.TextChoices):
        CLOSED = "closed", "Closed (invite only)"
        APPROVAL = "approval", "Approval (new accounts wait for an admin)"
        OPEN = "open", "Open"

    signup_mode = models.CharField(max_length=10, choices=Mode.choices, blank=True,
                                   help_text="Blank: the SIGNUP_MODE environment default")
    allowed_domains = models.TextField(blank=True, help_text="E-mail domains allowed to sign up, one per line "
                                                             "or comma-separated; blank allows any")
    sharing_enabled = models.BooleanField(
        default=True, help_text="Members may share read-only links to their conversations. Turning it off "
                                "makes every existing link answer 404 (they work again if turned back on).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "site settings"

    @classmethod
    def load(cls) -> SiteSettings:
        found, _ = cls.objects.get_or_create(pk=1)
        return found

    @property
    def mode(self) -> str:
        return self.signup_mode or settings.SIGNUP_MODE

    @property
    def domains(self) -> list[str]:
        raw = self.allowed_domains if self.allowed_domains.strip() else ",".join(settings.SIGNUP_DOMAINS)
        return sorted({d.strip().lower().lstrip("@") for d in raw.replace("\n", ",").split(",") if d.strip()})


class GroupPolicy(models.Model):
    """What a Django group carries: a pooled monthly budget and rate-limit overrides."""

    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="policy")
    budget_usd = models.DecimalField(**USD, help_text="Monthly limit in USD, shared by the group's members")
    budget_tokens = models.BigIntegerField(null=True, blank=True, help_text="Monthly limit in tokens, shared")
    messages_per_minute = models.PositiveIntegerField(null=True, blank=True,
                                                      help_text="Blank: the site default")
    max_live_generations = models.PositiveIntegerField(null=True, blank=True,
                                                       help_text="Blank: the site default")

    class Meta:
        verbose_name_plural = "group policies"

    def __str__(self) -> str:
        return f"policy of {self.group.name}"

    @property
    def has_budget(self) -> bool:
        return self.budget_usd is not None or self.budget_tokens is not None


class ModelAccess(models.Model):
    """A model limited to some groups. No row: open to everyone. A row: only those groups (and staff)."""

    model = models.OneToOneField("gateways.Model", on_delete=models.CASCADE, related_name="access")
    groups = models.ManyToManyField(Group, blank=True, related_name="model_access")

    class Meta:
        verbose_name = verbose_name_plural = "model access"

    def __str__(self) -> str:
        return f"access to {self.model.slug}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invite(models.Model):
    """An invite link; only the token's hash is stored, the link is shown once when created."""

    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    email = models.EmailField(blank=True, help_text="Bind the invite to this address (blank: anyone with the link)")
    group = models.ForeignKey(Group, on_delete=models.SET_NULL, null=True, blank=True)
    budget_usd = models.DecimalField(**USD, help_text="Per-user monthly budget for accounts made with this invite")
    budget_tokens = models.BigIntegerField(null=True, blank=True)
    max_uses = models.PositiveIntegerField(default=1)
    uses = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField()
    revoked = models.BooleanField(default=False)
    note = models.CharField(max_length=120, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invite {self.pk} ({self.email or 'anyone'})"

    @property
    def expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def used_up(self) -> bool:
        return self.uses >= self.max_uses

    @property
    def usable(self) -> bool:
        return not (self.revoked or self.expired or self.used_up)


class Reservation(models.Model):
    """What a live reply holds: its slot (the concurrent-reply limit counts these) and its estimated cost.

    Made with the reply (or Team API call) and deleted when it ends, however it ends (accounts.gate.hold /
    release); budgets subtract what live replies reserve, then their ledger rows count instead.
    """

    message_id = models.UUIDField(unique=True)  # the chat's reply, or a Team API call's own id
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reservations")
    ticks = models.BigIntegerField(default=0)
    tokens = models.BigIntegerField(default=0)
    # The web process holding a call that has no row of its own (a Team API call): when that process
    # dies, gate.release_orphans frees the slot. Blank for chat replies (their message says who runs them).
    holder = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)


class ApiToken(models.Model):
    """A personal access token for the Team API (/v1/): only its SHA-256 is kept, the token is shown once.

    A token acts as its owner, under the owner's model access, budgets and rate limits,
    narrowed to `model_slugs` when that list is not empty. It stops working when revoked,
    when it expires, and whenever its owner may not use Grokweb (accounts.tokens.authenticate).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=24, editable=False, help_text="The token's first characters, to recognise it")
    model_slugs = models.JSONField(default=list, blank=True,
                                   help_text="Slugs of the models this token may use; empty: all the owner may use")
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def state(self) -> str:
        """"active", "expired" or "revoked"."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expired else "active"
