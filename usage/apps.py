from django.apps import AppConfig


class UsageConfig(AppConfig):
    """The facts of spending: the ledger, money, rollups, reports and exports. Imports gateways only."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "usage"
    verbose_name = "Usage"
