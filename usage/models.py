"""The ledger (UsageRecord), its daily rollups and the re-pricing log.

Money stays exact: prices are Decimal USD per million tokens, costs integer
ticks (USD x 1e10). Cached-token savings are summed in pico-USD (1e-12 USD):
tokens x (price per million x 1e6) is an integer, so sums never round.
"""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from gateways.models import Model, Provider, Route

PRICE = {"max_digits": 12, "decimal_places": 6, "default": Decimal(0)}


class Source(models.TextChoices):
    """Who asked for a call: the web chat (its replies and their titles) or the Team API (a personal token)."""

    CHAT = "chat", "Chat"
    API = "api", "Team API"


class UsageRecord(models.Model):
    """The ledger: one row per upstream call, cost fixed when written.

    Money is in ticks (USD x 1e10, xAI's own unit) so sums stay exact. `purpose` says what
    the call was for (a reply, a title); `source` who asked for it, and `token` which personal
    access token when the Team API did.
    """

    class Purpose(models.TextChoices):
        CHAT = "chat"
        TITLE = "title"

    Source = Source

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="usage")
    conversation = models.ForeignKey("chat.Conversation", on_delete=models.SET_NULL, null=True, blank=True)
    message = models.OneToOneField(
        "chat.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="usage_record"
    )
    purpose = models.CharField(max_length=10, choices=Purpose.choices, default=Purpose.CHAT)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.CHAT)
    # A string reference, like `conversation`: usage never imports accounts.
    token = models.ForeignKey("accounts.ApiToken", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")
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
        db_table = "chat_usagerecord"
        indexes = [models.Index(fields=["user", "created_at"]), models.Index(fields=["model_slug", "created_at"])]


class Sums(models.Model):
    """The summed columns every rollup table has (usage.aggregates.COLUMNS)."""

    calls = models.PositiveIntegerField(default=0)
    estimated_calls = models.PositiveIntegerField(default=0)
    unreconciled_calls = models.PositiveIntegerField(default=0)
    failed_calls = models.PositiveIntegerField(default=0, help_text="outcome other than complete")
    prompt_tokens = models.BigIntegerField(default=0)
    cached_tokens = models.BigIntegerField(default=0)
    image_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    reasoning_tokens = models.BigIntegerField(default=0)
    billable_output_tokens = models.BigIntegerField(default=0)
    total_tokens = models.BigIntegerField(default=0)
    cost_ticks = models.BigIntegerField(default=0)
    stated_calls = models.PositiveIntegerField(default=0, help_text="calls whose gateway stated a cost")
    stated_cost_ticks = models.BigIntegerField(default=0)
    cost_ticks_of_stated = models.BigIntegerField(default=0, help_text="our cost of the calls with a stated cost")
    cached_saving_pusd = models.BigIntegerField(default=0, help_text="pico-USD saved by cached prompt tokens")

    class Meta:
        abstract = True


class UsageDaily(Sums):
    """Sums of the ledger rows of one day (server time zone) per user, provider, model, purpose, source and token.

    Rebuilt whole for a day (delete + insert in one transaction), so
    recomputing a day always gives the same rows.
    """

    day = models.DateField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    provider = models.ForeignKey(Provider, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    model = models.ForeignKey(Model, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    model_slug = models.CharField(max_length=80)
    purpose = models.CharField(max_length=10)
    source = models.CharField(max_length=10, default=Source.CHAT)
    token = models.ForeignKey("accounts.ApiToken", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "user", "provider", "model_slug", "purpose", "source", "token"],
                                    name="usage_daily_one_per_key"),
        ]
        indexes = [models.Index(fields=["day"]), models.Index(fields=["user", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.user_id} {self.model_slug} {self.purpose}"


class UsageDailyUser(Sums):
    """UsageDaily summed per day and user: what reports by user (and "My usage") read."""

    day = models.DateField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "user"], name="usage_daily_user_one_per_key")]
        indexes = [models.Index(fields=["user", "day"])]


class UsageDailyModel(Sums):
    """UsageDaily summed per day, provider, model and purpose: reports by model, provider, day, and totals."""

    day = models.DateField(db_index=True)
    provider = models.ForeignKey(Provider, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    model = models.ForeignKey(Model, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    model_slug = models.CharField(max_length=80)
    purpose = models.CharField(max_length=10)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "provider", "model_slug", "purpose"],
                                               name="usage_daily_model_one_per_key")]


class RollupState(models.Model):
    """The ledger id up to which rollups are complete (a single row)."""

    last_record_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)


class RepriceRun(models.Model):
    """The log of `manage.py reprice_usage`: what changed, when, for which range."""

    started_at = models.DateTimeField(auto_now_add=True)
    date_from = models.DateField()
    date_to = models.DateField()
    provider = models.CharField(max_length=80, blank=True)
    model_slug = models.CharField(max_length=80, blank=True)
    dry_run = models.BooleanField(default=False)
    rows_seen = models.PositiveIntegerField(default=0)
    rows_changed = models.PositiveIntegerField(default=0)
    old_cost_ticks = models.BigIntegerField(default=0)
    new_cost_ticks = models.BigIntegerField(default=0)
    invoked_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"reprice {self.date_from}..{self.date_to} ({self.rows_changed} rows)"

    @property
    def difference_ticks(self) -> int:
        return self.new_cost_ticks - self.old_cost_ticks

