from django.apps import AppConfig


class GatewaysConfig(AppConfig):
    """Providers, the model catalog, routes, tariffs, failover, breaker and health. Imports only gateways.wire."""

    name = "gateways"
    verbose_name = "Gateways"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (a dated price for each newly offered model)
