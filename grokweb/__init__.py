"""The project: settings, URLs, the JSON API's assembly, ASGI routing, the Celery app, navigation, health.

The top layer: it may import every app; no app imports it (but for the Celery app and the settings).
"""
from .celery import app as celery_app

__all__ = ("celery_app",)
