from django.apps import AppConfig


class TeamApiConfig(AppConfig):
    """The Team API: an OpenAI-compatible /v1/ for scripts, notebooks and editors, with personal tokens.

    Beside the chat, under the same admission, routes and ledger: imports accounts, usage and
    gateways, never chat.
    """

    name = "teamapi"
    verbose_name = "Team API"
    default_auto_field = "django.db.models.BigAutoField"
