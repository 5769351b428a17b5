"""Per-model access: a model is open to everyone unless an admin limits it to groups.

Staff see every model (they configure them and need to try them). A model
with a ModelAccess row is offered only to members of its groups; a row with
no groups leaves it to staff alone. Every path asks here through
`models_for` / `model_for`, so a refused model answers `model_unavailable`
on send, regenerate, edit and in the API.
"""
from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from gateways.models import Model

from .models import ModelAccess


def allowed(user: Any, models: QuerySet[Any]) -> QuerySet[Any]:
    """Narrow a gateways.Model queryset to what this user may use."""
    if user is not None and user.is_authenticated and user.is_staff:
        return models
    open_to_all = Q(access__isnull=True)
    if user is None or not user.is_authenticated:
        return models.filter(open_to_all)
    member = ModelAccess.groups.through.objects.filter(modelaccess__model=OuterRef("pk"), group__user=user)
    return models.filter(open_to_all | Q(Exists(member)))


def limit_to_groups(model: Any, groups: list[Any]) -> ModelAccess:
    """Limit a model to these groups (an empty list: staff only)."""
    access, _ = ModelAccess.objects.get_or_create(model=model)
    access.groups.set(groups)
    return access


def open_to_everyone(model: Any) -> None:
    ModelAccess.objects.filter(model=model).delete()


def models_for(user: Any) -> QuerySet[Model]:
    """Enabled models on enabled providers that this user may use (group limits; staff see all).

    A model no provider lists any more (gateways.discovery) is left out.
    """
    return allowed(user, Model.objects.filter(enabled=True, available=True, provider__enabled=True)
                   .select_related("provider"))


def model_for(user: Any, slug: str | None) -> Model | None:
    """The model of that slug if this user may use it; with no slug, the default (or the first)."""
    qs = models_for(user)
    if slug:
        return qs.filter(slug=slug).first()
    return qs.filter(is_default=True).first() or qs.first()
