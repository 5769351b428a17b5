from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Who may do what: users, groups, model access, budgets and rate limits, sign-up, invites, People.

    Imports usage (spend) and gateways (models, tariffs), never chat.
    """

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connect the signals that renew their per-process caches (model access; the Team API's token checks).
        from . import access, token_cache  # noqa: F401
