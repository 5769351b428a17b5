"""Per-model access: a model is open to everyone unless an admin limits it to groups.

Staff see every model (they configure them and need to try them). A model
with a ModelAccess row is offered only to members of its groups; a row with
no groups leaves it to staff alone. Every path asks here through
`models_for` / `model_for`, so a refused model answers `model_unavailable`
on send, regenerate, edit and in the API.
"""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.signals import m2m_changed, post_delete, post_save

from gateways import plans
from gateways.models import Model

from .models import GroupPolicy, ModelAccess, User


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


def _offered() -> tuple[tuple[Model, ...], dict[int, frozenset[int]]]:
    models = tuple(Model.objects.filter(enabled=True, available=True, provider__enabled=True)
                   .select_related("provider"))
    groups: dict[int, set[int]] = {}
    for model_id, group_id in ModelAccess.objects.values_list("model_id", "groups"):
        members = groups.setdefault(model_id, set())
        if group_id is not None:
            members.add(group_id)
    return models, {model_id: frozenset(ids) for model_id, ids in groups.items()}


def model_for(user: Any, slug: str | None) -> Model | None:
    """The model of that slug if this user may use it; with no slug, the default (or the first).

    Asked before every reply: the offered models and their group limits are kept per process
    (gateways.plans: renewed when a Provider, Model or ModelAccess changes), so an open model
    costs no query, and a limited one only the user's group ids. Callers must not change the
    returned instance (it is shared).
    """
    models, limited = plans.cached("accounts.offered", _offered)
    staff = user is not None and user.is_authenticated and user.is_staff
    member_of: set[int] | None = None

    def may_use(model: Model) -> bool:
        nonlocal member_of
        groups = limited.get(model.pk)
        if groups is None or staff:
            return True
        if not groups or user is None or not user.is_authenticated:
            return False
        if member_of is None:
            member_of = set(user.groups.values_list("id", flat=True))
        return not groups.isdisjoint(member_of)

    if slug:
        return next((m for m in models if m.slug == slug and may_use(m)), None)
    usable = [m for m in models if may_use(m)]
    return next((m for m in usable if m.is_default), None) or (usable[0] if usable else None)


def offered_model(model_id: int | None) -> Model | None:
    """An offered model by id, from the per-process cache (no query); None if it is not offered.

    For a row that names its model (a conversation's): whether this user may still use it is
    `model_for`'s question. The instance is shared: never change it.
    """
    if model_id is None:
        return None
    models, _ = plans.cached("accounts.offered", _offered)
    return next((m for m in models if m.pk == model_id), None)


def _renew(sender: Any, **kwargs: Any) -> None:
    plans.changed()


# What model_for keeps: a model's limits (its row and that row's groups) and the groups themselves.
post_save.connect(_renew, sender=ModelAccess, dispatch_uid="accounts.access.save")
post_delete.connect(_renew, sender=ModelAccess, dispatch_uid="accounts.access.delete")
post_delete.connect(_renew, sender=Group, dispatch_uid="accounts.access.group_delete")
m2m_changed.connect(_renew, sender=ModelAccess.groups.through, dispatch_uid="accounts.access.groups")
# What accounts.limits keeps: each user's group policies (so a policy's rows and who is in its group).
post_save.connect(_renew, sender=GroupPolicy, dispatch_uid="accounts.access.policy_save")
post_delete.connect(_renew, sender=GroupPolicy, dispatch_uid="accounts.access.policy_delete")
m2m_changed.connect(_renew, sender=User.groups.through, dispatch_uid="accounts.access.members")
