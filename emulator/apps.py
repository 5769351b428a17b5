from django.apps import AppConfig


class EmulatorConfig(AppConfig):
    """Installed only for its `run_emulator` management command; it has no models."""

    name = "emulator"
    verbose_name = "Grok emulator"
