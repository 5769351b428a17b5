from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Who may do what: users, groups, model access, budgets and rate limits, sign-up, invites, People.

    Imports usage (spend) and gateways (models, tariffs), never chat.
    """

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import access  # noqa: F401  # connects the signals that renew its per-process cache
