from django.apps import AppConfig


class ChatConfig(AppConfig):
    """Conversations, messages, frames, the consumer, the hub, the generation runner, titles, prompting.

    The top domain app: it may import accounts, usage and gateways.
    """

    name = "chat"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (accounts' signals: close a disabled user's tabs)
