"""Providers, models, conversations, messages and the usage ledger."""
from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models

from . import crypto

if TYPE_CHECKING:
    from .upstream.client import Endpoint

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
    first_token_timeout = models.FloatField(default=120.0)
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
        from .upstream.client import Endpoint

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
        ordering = ["priority", "id"]
        constraints = [models.UniqueConstraint(fields=["model", "provider", "upstream_id"], name="route_unique")]

    def __str__(self) -> str:
        return f"{self.model.slug} via {self.provider.name} ({self.upstream_id})"


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    title = models.CharField(max_length=200, blank=True)
    model = models.ForeignKey(Model, on_delete=models.SET_NULL, null=True, blank=True)
    system_prompt = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    pinned = models.BooleanField(default=False)
    archived = models.BooleanField(default=False)
    # The leaf of the branch the UI shows; edits and regenerations move it.
    current_leaf = models.ForeignKey(
        "Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["owner", "-updated_at"])]

    def __str__(self) -> str:
        return self.title or str(self.id)


class Message(models.Model):
    """One turn; siblings under the same parent are edits or regenerations."""

    class Role(models.TextChoices):
        SYSTEM = "system"
        USER = "user"
        ASSISTANT = "assistant"

    class Status(models.TextChoices):
        STREAMING = "streaming"
        COMPLETE = "complete"
        CANCELLED = "cancelled"
        ERROR = "error"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="children")
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField(blank=True)
    parts = models.JSONField(default=list, blank=True)
    reasoning = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.COMPLETE, db_index=True)
    finish_reason = models.CharField(max_length=20, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_detail = models.TextField(blank=True)
    model = models.ForeignKey(Model, on_delete=models.SET_NULL, null=True, blank=True)
    model_slug = models.CharField(max_length=80, blank=True)
    ttft_ms = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    request_id = models.UUIDField(null=True, blank=True, unique=True)
    # While streaming: the channel of the process running the reply, and the
    # `seq` the checkpointed text corresponds to.
    runner = models.CharField(max_length=120, blank=True)
    live_seq = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.role} {self.id}"


class Share(models.Model):
    """A read-only link to a conversation's branch as it was when shared (chat.sharing)."""

    token = models.CharField(max_length=64, unique=True, editable=False)
    conversation = models.OneToOneField(Conversation, on_delete=models.CASCADE, related_name="share")
    # The last message the link shows; later messages and other branches stay private.
    leaf = models.ForeignKey(Message, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"share of {self.conversation_id}"


class UsageRecord(models.Model):
    """The ledger: one row per upstream call, cost fixed when written.

    Money is in ticks (USD x 1e10, xAI's own unit) so sums stay exact.
    """

    class Purpose(models.TextChoices):
        CHAT = "chat"
        TITLE = "title"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="usage")
    conversation = models.ForeignKey(Conversation, on_delete=models.SET_NULL, null=True, blank=True)
    message = models.OneToOneField(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="usage_record"
    )
    purpose = models.CharField(max_length=10, choices=Purpose.choices, default=Purpose.CHAT)
    provider = models.ForeignKey(Provider, on_delete=models.SET_NULL, null=True, blank=True)
    route = models.ForeignKey(Route, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    model = models.ForeignKey(Model, on_delete=models.SET_NULL, null=True, blank=True)
    model_slug = models.CharField(max_length=80)
    upstream_model = models.CharField(max_length=120, blank=True)
    outcome = models.CharField(max_length=10, default="complete")
    prompt_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(default=0)
    image_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0, help_text="visible output")
    reasoning_tokens = models.PositiveIntegerField(default=0)
    billable_output_tokens = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveIntegerField(default=0)
    estimated = models.BooleanField(default=False)
    reconciles = models.BooleanField(default=True)
    convention = models.CharField(max_length=12, blank=True)
    raw_usage = models.JSONField(null=True, blank=True)
    price_input = models.DecimalField(**PRICE)
    price_cached_input = models.DecimalField(**PRICE)
    price_output = models.DecimalField(**PRICE)
    cost_ticks = models.BigIntegerField(default=0)
    stated_cost_ticks = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"]), models.Index(fields=["model_slug", "created_at"])]
