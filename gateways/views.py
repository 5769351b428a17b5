"""Admin pages for gateways: providers (add, edit, disable, test, discover, map ids) and health."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from django.contrib import messages
from django.contrib.auth.decorators import user_passes_test
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from . import audit
from .discovery import discover, discover_all, refresh_availability
from .forms import MapForm, ProviderForm
from .health import WINDOWS, route_states, window_rows
from .models import AuditEntry, ListedModel, Model, Provider, Route
from .offering import ensure_route
from .probe import probe
from .routes import move_up, ordered
from .tariffs import rate_on


def _staff(user: Any) -> bool:
    """Anonymous users sign in; members get the 403 page (templates/403.html)."""
    if user.is_authenticated and not user.is_staff:
        raise PermissionDenied("Administrators only")
    return bool(user.is_authenticated)


staff_required = user_passes_test(_staff)

PROBE_KEPT_S = 7 * 24 * 3600


def _probe_key(provider_id: int) -> str:
    """The last 'Test connection' outcome is kept a week, shown on the provider's card."""
    return f"grokweb:probe:{provider_id}"


@staff_required
def providers(request: HttpRequest) -> HttpResponse:
    rows = Provider.objects.order_by("-enabled", "name")
    routes = Route.objects.select_related("model").order_by("model__sort_order", "priority")
    unmapped = (ListedModel.objects.filter(status=ListedModel.Status.UNMAPPED, listed=True, provider__enabled=True)
                .select_related("provider").order_by("provider__name", "upstream_id"))
    by_provider: dict[int, list[Route]] = {}
    for route in routes:
        by_provider.setdefault(route.provider_id, []).append(route)
    tests = cache.get_many([_probe_key(p.pk) for p in rows])
    return render(request, "gateways/providers.html", {
        "providers": [(p, by_provider.get(p.id, []), tests.get(_probe_key(p.pk)),
                       any(not r.available or not r.enabled for r in by_provider.get(p.id, []))) for p in rows],
        "unmapped": _map_forms(unmapped),
        "ignored": ListedModel.objects.filter(status=ListedModel.Status.IGNORED).select_related("provider"),
        "audit": AuditEntry.objects.select_related("actor")[:15],
    })


def _map_forms(unmapped: Iterable[ListedModel]) -> list[tuple[ListedModel, MapForm]]:
    """A map form per unmapped id, each with its own field id (so its label points at it alone),
    sharing one read of the catalog for their selects."""
    choices = list(MapForm().fields["model"].choices)
    forms = []
    for listed in unmapped:
        form = MapForm(auto_id=f"map-{listed.pk}-%s")
        form.fields["model"].choices = choices
        forms.append((listed, form))
    return forms


def _form_page(request: HttpRequest, form: ProviderForm, provider: Provider | None) -> HttpResponse:
    history = AuditEntry.objects.filter(provider=provider)[:30] if provider else []
    return render(request, "gateways/provider_form.html", {"form": form, "provider": provider, "history": history})


@staff_required
def provider_add(request: HttpRequest) -> HttpResponse:
    form = ProviderForm(request.POST or None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            provider = form.save_by(request.user)
        result = discover(provider)
        messages.success(request, f"Added {provider.name}. {result.summary()}")
        return redirect("gateways:providers")
    return _form_page(request, form, None)


@staff_required
def provider_edit(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(Provider, pk=pk)
    form = ProviderForm(request.POST or None, instance=provider, actor=request.user)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            provider = form.save_by(request.user)
            refresh_availability()
        messages.success(request, f"Saved {provider.name}.")
        return redirect("gateways:providers")
    return _form_page(request, form, provider)


@staff_required
@require_POST
def provider_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(Provider, pk=pk)
    with transaction.atomic():
        provider.enabled = not provider.enabled
        provider.edited_by_hand = True
        provider.save(update_fields=["enabled", "edited_by_hand", "updated_at"])
        audit.record(provider, request.user,
                     AuditEntry.Action.ENABLED if provider.enabled else AuditEntry.Action.DISABLED, ["enabled"])
        refresh_availability()
    messages.success(request, f"{provider.name} is {'enabled' if provider.enabled else 'disabled'}.")
    return redirect("gateways:providers")


@staff_required
@require_POST
def provider_test(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(Provider, pk=pk)
    preferred = list(Route.objects.filter(provider=provider, enabled=True, available=True)
                     .order_by("priority", "id").values_list("upstream_id", flat=True)[:1])
    try:
        endpoint = provider.endpoint()
    except ValueError:
        messages.error(request, f"{provider.name} — Bad key: the stored key cannot be decrypted with the "
                                "configured FIELD_ENCRYPTION_KEY; enter it again.")
        return redirect("gateways:providers")
    outcome = async_to_sync(probe)(endpoint, preferred)
    cache.set(_probe_key(provider.pk), {"ok": outcome.ok, "verdict": outcome.verdict, "detail": outcome.detail,
                                        "at": timezone.now()}, PROBE_KEPT_S)
    level = messages.success if outcome.ok and outcome.verdict == "Working" else (
        messages.warning if outcome.ok else messages.error)
    level(request, f"{provider.name} — {outcome.message()}")
    return redirect("gateways:providers")


@staff_required
@require_POST
def provider_discover(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(Provider, pk=pk)
    result = discover(provider)
    (messages.error if result.error else messages.success)(request, result.summary())
    return redirect("gateways:providers")


@staff_required
@require_POST
def providers_discover(request: HttpRequest) -> HttpResponse:
    for result in discover_all():
        (messages.error if result.error else messages.success)(request, result.summary())
    return redirect("gateways:providers")


@staff_required
@require_POST
def listed_map(request: HttpRequest, pk: int) -> HttpResponse:
    listed = get_object_or_404(ListedModel.objects.select_related("provider"), pk=pk)
    form = MapForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the model this id means.")
        return redirect("gateways:providers")
    model = form.cleaned_data["model"]
    with transaction.atomic():
        listed.status, listed.model = ListedModel.Status.MAPPED, model
        listed.save(update_fields=["status", "model", "last_seen"])
        ensure_route(model, listed.provider, listed.upstream_id)
        audit.record(listed.provider, request.user, AuditEntry.Action.EDITED, [f"route {listed.upstream_id}"])
        refresh_availability()
    messages.success(request, f"{listed.upstream_id} on {listed.provider.name} now serves {model.name}.")
    return redirect("gateways:providers")


@staff_required
@require_POST
def listed_ignore(request: HttpRequest, pk: int) -> HttpResponse:
    listed = get_object_or_404(ListedModel.objects.select_related("provider"), pk=pk)
    ignore = request.POST.get("undo") != "1"
    with transaction.atomic():
        listed.status = ListedModel.Status.IGNORED if ignore else ListedModel.Status.UNMAPPED
        listed.save(update_fields=["status", "last_seen"])
        audit.record(listed.provider, request.user, AuditEntry.Action.EDITED,
                     [f"{'ignored' if ignore else 'unignored'} {listed.upstream_id}"])
    messages.success(request, f"{listed.upstream_id} is {'ignored' if ignore else 'back in the unmapped list'}.")
    return redirect("gateways:providers")


@staff_required
def health(request: HttpRequest) -> HttpResponse:
    windows = [(key, label, window_rows(span)) for key, label, span in WINDOWS]
    return render(request, "gateways/health.html", {"windows": windows, "routes": route_states()})


@staff_required
def routes(request: HttpRequest) -> HttpResponse:
    """Each model's routes in the order replies try them, with the price each provider charges."""
    models = Model.objects.filter(routes__isnull=False).distinct().order_by("sort_order", "name")
    rows = [(model, [(route, rate_on(route.provider_id, model)) for route in ordered(model)]) for model in models]
    return render(request, "gateways/routes.html", {"models": rows, "states": {
        state.route.pk: state.open_for_s for state in route_states()}})


@staff_required
@require_POST
def route_up(request: HttpRequest, pk: int) -> HttpResponse:
    route = get_object_or_404(Route.objects.select_related("model", "provider"), pk=pk)
    with transaction.atomic():
        if move_up(route):
            audit.record(route.provider, request.user, AuditEntry.Action.EDITED,
                         [f"route order of {route.model.slug}"])
            refresh_availability()
    messages.success(request, f"{route.model.name}: {route.provider.name} is now tried "
                              f"{'first' if ordered(route.model)[0].pk == route.pk else 'earlier'}.")
    return redirect(f"{reverse('gateways:routes')}#model-{route.model.slug}")


@staff_required
@require_POST
def route_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    route = get_object_or_404(Route.objects.select_related("model", "provider"), pk=pk)
    with transaction.atomic():
        route.enabled = not route.enabled
        route.save(update_fields=["enabled"])
        state = "enabled" if route.enabled else "disabled"
        audit.record(route.provider, request.user, AuditEntry.Action.EDITED, [f"route {route.upstream_id} {state}"])
        refresh_availability()
    messages.success(request, f"{route.model.name} via {route.provider.name} is {state}.")
    return redirect(f"{reverse('gateways:routes')}#model-{route.model.slug}")
