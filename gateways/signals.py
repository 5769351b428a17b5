"""A model offered through a provider gets a dated price for that pair (seeded from the catalog);
any change to what a reply's plan reads (providers, models, routes, prices) renews the cached plans."""
from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import plans
from .models import Model, Price, Provider, Route
from .tariffs import ensure_price


@receiver(post_save, sender=Model, dispatch_uid="gateways.ensure_price")
def _offered(sender: type[Model], instance: Model, raw: bool = False, **kwargs: Any) -> None:
    if not raw:
        ensure_price(instance)


def _renew_plans(sender: Any, **kwargs: Any) -> None:
    plans.changed()


for _model in (Provider, Model, Route, Price):
    post_save.connect(_renew_plans, sender=_model, dispatch_uid=f"gateways.plans.save.{_model.__name__}")
    post_delete.connect(_renew_plans, sender=_model, dispatch_uid=f"gateways.plans.delete.{_model.__name__}")
