"""The gateways' data: providers (encrypted keys), the model catalog, routes, tariffs, and their bookkeeping.

Provider, Model and Route keep the tables they had in the chat app (chat_*), and Price its
usage_price table: they moved here in code only (see the migrations), so no row moved.
"""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from . import crypto
from .wire.client import Endpoint

PRICE = {"max_digits": 12, "decimal_places": 6, "default": Decimal(0)}

class Provider(models.Model):
    """An OpenAI-compatible endpoint; its API key is encrypted at rest."""

    class Kind(models.TextChoices):
        XAI = "xai", "xAI"
        AIMLAPI = "aimlapi", "AI/ML API"
        MAXTOKEN = "maxtoken", "maxtoken"
        CRAZYROUTER = "crazyrouter", "crazyrouter"
        OPENAI = "openai", "OpenAI-compatible"
        EMULATOR = "emulator", "Built-in emulator (simulated)"

    name = models.CharField(max_length=80, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    base_url = models.URLField(max_length=300)
    api_key_encrypted = models.TextField(blank=True, editable=False)
    include_usage = models.BooleanField(
        default=True, help_text="Send stream_options.include_usage (turn off for gateways that reject it)."
    )
    usage_convention = models.CharField(
        max_length=5, default="auto", choices=[("auto", "detect"), ("A", "A"), ("B", "B")]
    )
    connect_timeout = models.FloatField(default=10.0)
    # Short enough to fail over: a silent route is left for the next one (docs/operations.md, worst case).
    first_token_timeout = models.FloatField(default=30.0)
    idle_timeout = models.FloatField(default=60.0)
    max_retries = models.PositiveSmallIntegerField(default=2)
    headers = models.JSONField(default=dict, blank=True, help_text="Extra HTTP headers sent with every request.")
    enabled = models.BooleanField(default=True)
    from_env = models.BooleanField(default=False, editable=False)
    # An admin changed this provider by hand: start-up no longer overwrites it from
    # the environment (unless `bootstrap --env-wins`).
    edited_by_hand = models.BooleanField(default=False, editable=False)
    discovered_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "chat_provider"

    def __str__(self) -> str:
        return self.name

    @property
    def simulated(self) -> bool:
        return self.kind == self.Kind.EMULATOR

    def set_api_key(self, plaintext: str) -> None:
        self.api_key_encrypted = crypto.encrypt(plaintext)

    def has_key(self, plaintext: str) -> bool:
        """Whether `plaintext` is the stored key (False when it cannot be decrypted)."""
        try:
            return bool(self.api_key_encrypted) and crypto.decrypt(self.api_key_encrypted) == plaintext
        except ValueError:
            return False

    def endpoint(self) -> Endpoint:
        """What the upstream client needs; the only place the key is decrypted."""
        from gateways.wire.client import Endpoint

        return Endpoint(
            base_url=self.base_url.rstrip("/"),
            api_key=crypto.decrypt(self.api_key_encrypted),
            include_usage=self.include_usage,
            connect_timeout=self.connect_timeout,
            first_token_timeout=self.first_token_timeout,
            idle_timeout=self.idle_timeout,
            max_retries=self.max_retries,
            headers={str(k): str(v) for k, v in (self.headers or {}).items()},
            usage_convention=self.usage_convention,
        )

class Model(models.Model):
    """A model offered to the team, reached through one provider."""

    class Reasoning(models.TextChoices):
        NONE = "none", "none"
        HIDDEN = "hidden", "hidden (silent thinking)"
        TRACE = "trace", "full trace"
        SUMMARY = "summary", "summary"

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120)
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="models")
    upstream_id = models.CharField(max_length=120)
    reasoning = models.CharField(max_length=10, choices=Reasoning.choices, default=Reasoning.NONE)
    accepts_reasoning_effort = models.BooleanField(default=False)
    vision = models.BooleanField(default=False)
    context_window = models.PositiveIntegerField(default=131_072)
    price_input = models.DecimalField(**PRICE, help_text="USD per million prompt tokens")
    price_cached_input = models.DecimalField(**PRICE, help_text="USD per million cached prompt tokens")
    price_output = models.DecimalField(**PRICE, help_text="USD per million output tokens")
    enabled = models.BooleanField(default=True)
    # False when no provider lists it any more (model discovery): shown as unavailable, never offered.
    available = models.BooleanField(default=True)
    is_default = models.BooleanField(default=False)
    sort_order = models.PositiveSmallIntegerField(default=100)

    class Meta:
        db_table = "chat_model"
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.slug

    @property
    def reasons(self) -> bool:
        return self.reasoning != self.Reasoning.NONE

class Route(models.Model):
    """One way to reach a model: a provider and the id it knows the model by.

    A model's enabled routes are tried in `priority` order; the next one takes
    over when one fails before the first token (gateways.failover).
    """

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="routes")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="routes")
    upstream_id = models.CharField(max_length=120)
    priority = models.PositiveSmallIntegerField(default=100, help_text="Lower is tried first.")
    enabled = models.BooleanField(default=True)
    # Listed by the provider at its last model discovery.
    available = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "chat_route"
        ordering = ["priority", "id"]
        constraints = [models.UniqueConstraint(fields=["model", "provider", "upstream_id"], name="route_unique")]

    def __str__(self) -> str:
        return f"{self.model.slug} via {self.provider.name} ({self.upstream_id})"


class Price(models.Model):
    """What a provider charges for a model from a date on (until the next row's date): its tariff.

    A price belongs to a (provider, model) pair, like a route; usage.ledger fixes the cost of each
    call with the price in effect that day (gateways.tariffs.rate_on).
    """

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="prices")
    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="prices")
    effective_from = models.DateField(help_text="Calls made on or after this day (server time zone) use this price.")
    input = models.DecimalField(max_digits=12, decimal_places=6, help_text="USD per million prompt tokens")
    cached_input = models.DecimalField(max_digits=12, decimal_places=6,
                                       help_text="USD per million cached prompt tokens")
    output = models.DecimalField(max_digits=12, decimal_places=6,
                                 help_text="USD per million output tokens (reasoning included)")
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "usage_price"
        ordering = ["provider", "model", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "model", "effective_from"], name="usage_price_one_per_day"),
            models.CheckConstraint(
                condition=models.Q(input__gte=0, cached_input__gte=0, output__gte=0), name="usage_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} on {self.provider} from {self.effective_from}"


class AuditEntry(models.Model):
    """A change to a provider. Names the fields changed, never a key's value ("key changed")."""

    class Action(models.TextChoices):
        CREATED = "created"
        EDITED = "edited"
        DISABLED = "disabled"
        ENABLED = "enabled"
        KEY_CHANGED = "key changed"
        KEYS_ROTATED = "keys rotated"
        FROM_ENVIRONMENT = "from environment"
        DELETED = "deleted"

    provider = models.ForeignKey(Provider, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    provider_name = models.CharField(max_length=80)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    fields = models.JSONField(default=list, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name or 'system'} {self.action} {self.provider_name}"


class ListedModel(models.Model):
    """An id a provider's `GET /models` listed, and what we made of it."""

    class Status(models.TextChoices):
        MAPPED = "mapped"  # routes to a catalog model
        UNMAPPED = "unmapped"  # waits for an admin: map or ignore
        IGNORED = "ignored"

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="listed_models")
    upstream_id = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UNMAPPED)
    model = models.ForeignKey(Model, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    listed = models.BooleanField(default=True, help_text="In the provider's latest list.")
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider", "upstream_id"]
        constraints = [models.UniqueConstraint(fields=["provider", "upstream_id"], name="listed_model_unique")]

    def __str__(self) -> str:
        return f"{self.provider.name}: {self.upstream_id} ({self.status})"


class Attempt(models.Model):
    """One upstream call attempt (a served reply, or a failure before failover). Health reads these."""

    provider = models.ForeignKey(Provider, on_delete=models.SET_NULL, null=True, related_name="+")
    route = models.ForeignKey(Route, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    model_slug = models.CharField(max_length=80)
    outcome = models.CharField(max_length=40, help_text="`ok` or an error code")
    ttft_ms = models.PositiveIntegerField(null=True, blank=True)
    at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["provider", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S} {self.model_slug} {self.outcome}"
