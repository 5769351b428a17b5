"""A model offered through a provider gets a dated price for that pair (seeded from the catalog)."""
from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Model
from .tariffs import ensure_price


@receiver(post_save, sender=Model, dispatch_uid="gateways.ensure_price")
def _offered(sender: type[Model], instance: Model, raw: bool = False, **kwargs: Any) -> None:
    if not raw:
        ensure_price(instance)
