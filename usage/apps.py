from django.apps import AppConfig


class UsageConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "usage"
    verbose_name = "Usage and prices"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (dated prices for newly offered models)
