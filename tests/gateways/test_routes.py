"""The Routes page: admins order a model's routes and switch them off; replies follow that order."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from gateways.discovery import discover
from gateways.models import AuditEntry, Model, Price, Route
from gateways.routes import move_up, usable_routes

pytestmark = pytest.mark.django_db
SLUG = "grok-3-mini"


@pytest.fixture
def two(make_provider):  # type: ignore[no-untyped-def]
    xai, aiml = make_provider("xai"), make_provider("aimlapi")
    discover(xai)
    discover(aiml)
    return xai, aiml


def _order() -> list[str]:
    return [choice.provider_name for choice in usable_routes(Model.objects.get(slug=SLUG))]


def test_moving_a_route_up_changes_who_answers_first(two, staff_client, logged_in) -> None:
    xai, aiml = two
    assert _order() == ["xAI", "AI/ML API"]
    second = Route.objects.get(model__slug=SLUG, provider=aiml)
    response = staff_client.post(reverse("gateways:route_up", args=[second.pk]), follow=True)
    assert "AI/ML API is now tried first" in response.content.decode()
    assert _order() == ["AI/ML API", "xAI"]
    assert list(Route.objects.filter(model__slug=SLUG).values_list("priority", flat=True)) == [10, 20]
    model = next(m for m in logged_in.get("/api/models/").json() if m["slug"] == SLUG)
    assert model["provider"] == "AI/ML API"  # the model is listed under the route that answers first
    assert AuditEntry.objects.filter(provider=aiml, action="edited", actor_name="root",
                                     fields=[f"route order of {SLUG}"]).exists()


def test_a_disabled_route_is_skipped_and_the_last_one_off_makes_the_model_unavailable(two, staff_client,
                                                                                      logged_in) -> None:
    xai, aiml = two
    for provider, left in ((xai, ["AI/ML API"]), (aiml, None)):
        route = Route.objects.get(model__slug=SLUG, provider=provider)
        staff_client.post(reverse("gateways:route_toggle", args=[route.pk]))
        if left:
            assert _order() == left
    assert not Model.objects.get(slug=SLUG).available
    assert SLUG not in [m["slug"] for m in logged_in.get("/api/models/").json()]
    page = staff_client.get(reverse("gateways:routes")).content.decode()
    assert "unavailable: no route" in page
    assert AuditEntry.objects.filter(provider=aiml, fields=["route x-ai/grok-3-mini disabled"]).exists()


def test_the_page_lists_routes_in_order_with_each_providers_price(two, staff_client) -> None:
    xai, aiml = two
    model = Model.objects.get(slug=SLUG)
    Price.objects.create(provider=aiml, model=model, effective_from=dt.date(2020, 1, 1), input=Decimal("0.315"),
                         cached_input=Decimal("0.08"), output=Decimal("0.525"))
    page = staff_client.get(reverse("gateways:routes")).content.decode()
    card = page.split(f'id="model-{SLUG}"')[1].split("</section>")[0]
    assert card.index("xAI") < card.index("AI/ML API")
    assert "$0.30 / $0.075 / $0.50" in card  # xAI: the catalog price
    assert "$0.315 / $0.08 / $0.525" in card  # AI/ML API: its own dated price
    assert card.count("Move up") == 1  # the first route cannot move up


def test_members_cannot_reorder(two, member_client) -> None:
    route = Route.objects.filter(model__slug=SLUG).last()
    assert member_client.get(reverse("gateways:routes")).status_code == 403
    assert member_client.post(reverse("gateways:route_up", args=[route.pk])).status_code == 403
    assert member_client.post(reverse("gateways:route_toggle", args=[route.pk])).status_code == 403
    assert _order() == ["xAI", "AI/ML API"]


def test_a_title_goes_through_the_models_first_route_and_the_ledger_names_it(two, user) -> None:
    from chat.models import Conversation, Message
    from chat.titles import write_title
    from gateways import catalog
    from usage.models import UsageRecord

    xai, aiml = two
    first = Route.objects.get(model__slug=catalog.TITLE_MODEL, provider=aiml)
    assert move_up(first)
    conversation = Conversation.objects.create(owner=user, model=Model.objects.get(slug=SLUG))
    question = Message.objects.create(conversation=conversation, role="user", content="Plan a trip to Lisbon in May")
    conversation.current_leaf = question
    conversation.save()
    assert write_title(conversation.id)
    row = UsageRecord.objects.get(conversation=conversation, purpose="title")
    assert (row.route_id, row.provider_id, row.outcome) == (first.id, aiml.id, "complete")
    assert row.upstream_model == first.upstream_id
    # AI/ML API states its charge in `meta.usage`: the title's row keeps it, like a reply's does.
    assert "meta" in row.raw_usage and row.stated_cost_ticks is not None


def _post_data(form) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """What the browser would send back for an unchanged form."""
    data: dict[str, object] = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[form.add_prefix(name)] = "on"
        elif value is not None:
            data[form.add_prefix(name)] = value
    return data


def test_reordering_in_the_django_admin_is_audited_and_moves_the_model(two, staff_client) -> None:
    xai, aiml = two
    model = Model.objects.get(slug=SLUG)
    url = f"/admin/gateways/model/{model.pk}/change/"
    page = staff_client.get(url)
    data = _post_data(page.context["adminform"].form)
    (formset,) = [inline.formset for inline in page.context["inline_admin_formsets"]]
    data.update(_post_data(formset.management_form))
    for form in formset.forms:
        data.update(_post_data(form))
        if form.instance.provider_id == aiml.id:
            data[form.add_prefix("priority")] = 1
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert _order() == ["AI/ML API", "xAI"]
    model.refresh_from_db()
    assert model.provider == aiml and model.upstream_id == "x-ai/grok-3-mini"
    assert AuditEntry.objects.filter(provider=aiml, fields=["route x-ai/grok-3-mini: priority"]).exists()
