"""The Celery app: a Redis broker in the team deployment, eager in-process otherwise."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grokweb.settings")

app = Celery("grokweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
