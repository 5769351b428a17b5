"""Model discovery against each kind of gateway: routes, unmapped ids, models that disappear."""
from __future__ import annotations

import pytest
from django.urls import reverse

from gateways.discovery import discover
from gateways.models import ListedModel, Model, Route
from gateways.tasks import discover_models

pytestmark = pytest.mark.django_db

EXPECTED = {  # kind -> (a catalog slug, the id this gateway calls it by, ids that stay unmapped)
    "xai": ("grok-4-1-fast-reasoning", "grok-4-1-fast-reasoning", set()),
    "aimlapi": ("grok-4-1-fast-reasoning", "x-ai/grok-4-1-fast-reasoning",
                {"openai/gpt-4o", "anthropic/claude-sonnet-4", "x-ai/grok-imagine-image"}),
    "maxtoken": ("grok-4.20-0309-non-reasoning", "grok-4.20-beta-0309-non-reasoning",
                 {"gpt-4.1-mini", "deepseek-v3.2"}),
    "crazyrouter": ("grok-4-0709", "grok-4", {"gpt-4o-mini", "claude-sonnet-4-5", "grok-imagine-video"}),
}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_discovery_maps_each_gateways_ids_and_lists_the_rest(kind, make_provider) -> None:
    provider = make_provider(kind)
    result = discover(provider)
    slug, upstream_id, unmapped = EXPECTED[kind]
    assert not result.error and len(result.mapped) == 9
    route = Route.objects.get(provider=provider, model__slug=slug)
    assert route.upstream_id == upstream_id and route.available
    assert set(ListedModel.objects.filter(provider=provider, status="unmapped").values_list("upstream_id", flat=True)) \
        == unmapped
    assert Model.objects.get(slug=slug).available


def test_crazyrouter_aliases_are_mapped_but_get_no_second_route(make_provider) -> None:
    provider = make_provider("crazyrouter")
    discover(provider)
    thinking = ListedModel.objects.get(provider=provider, upstream_id="grok-4.1-thinking")
    assert thinking.status == "mapped" and thinking.model.slug == "grok-4-1-fast-reasoning"
    assert list(Route.objects.filter(provider=provider, model__slug="grok-4-1-fast-reasoning")
                .values_list("upstream_id", flat=True)) == ["grok-4.1-fast"]


def test_a_model_the_only_provider_stops_listing_is_marked_unavailable(make_provider, gateways, logged_in) -> None:
    provider = make_provider("maxtoken")
    discover(provider)
    assert "grok-4.20-0309-non-reasoning" in [m["slug"] for m in logged_in.get("/api/models/").json()]
    gateways["maxtoken"].app.listed = [i for i in gateways["maxtoken"].app.listed
                                       if i != "grok-4.20-beta-0309-non-reasoning"]
    result = discover(provider)
    assert result.gone == ["grok-4.20-0309-non-reasoning"]
    model = Model.objects.get(slug="grok-4.20-0309-non-reasoning")
    assert not model.available and not Route.objects.get(model=model, provider=provider).available
    assert "grok-4.20-0309-non-reasoning" not in [m["slug"] for m in logged_in.get("/api/models/").json()]
    listed = ListedModel.objects.get(provider=provider, upstream_id="grok-4.20-beta-0309-non-reasoning")
    assert not listed.listed
    gateways["maxtoken"].app.listed.append("grok-4.20-beta-0309-non-reasoning")  # back again
    discover(provider)
    assert Model.objects.get(slug="grok-4.20-0309-non-reasoning").available


def test_a_model_still_listed_by_another_provider_stays_available_there(make_provider, gateways) -> None:
    xai, crazy = make_provider("xai"), make_provider("crazyrouter")
    discover(xai)
    discover(crazy)
    gateways["xai"].app.listed = [i for i in gateways["xai"].app.listed if i != "grok-4-0709"]
    discover(xai)
    model = Model.objects.get(slug="grok-4-0709")
    assert model.available and model.provider == crazy and model.upstream_id == "grok-4"


def test_a_sending_user_gets_a_clear_error_for_an_unavailable_model(make_provider, gateways, user) -> None:
    from chat import services
    from gateways.wire.codes import ChatError

    provider = make_provider("xai")
    discover(provider)
    gateways["xai"].app.listed = [i for i in gateways["xai"].app.listed if i != "grok-3-mini"]
    discover(provider)
    import uuid

    with pytest.raises(ChatError) as caught:
        services.send(user, request_id=uuid.uuid4(), conversation_id=None, content="hi", model_slug="grok-3-mini")
    assert caught.value.code == "model_unavailable"


def test_an_unreadable_list_changes_nothing(make_provider) -> None:
    provider = make_provider("xai", key="sk-wrong-key-for-this-gateway")
    result = discover(provider)
    assert result.error == "upstream_auth" and "could not be read" in result.summary()
    assert not Route.objects.filter(provider=provider).exists()


def test_the_periodic_task_discovers_every_enabled_provider(make_provider) -> None:
    make_provider("aimlapi")
    off = make_provider("crazyrouter")
    off.enabled = False
    off.save()
    summaries = discover_models()
    assert len(summaries) == 1 and "AI/ML API: 12 ids listed, 9 catalog models served, 3 unmapped" in summaries[0]


def test_the_beat_schedule_runs_discovery() -> None:
    from django.conf import settings

    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "gateways.tasks.discover_models" in tasks


def test_an_admin_maps_an_unmapped_id_or_ignores_it(make_provider, staff_client) -> None:
    provider = make_provider("crazyrouter")
    staff_client.post(reverse("gateways:provider_discover", args=[provider.pk]))
    page = staff_client.get(reverse("gateways:providers")).content.decode()
    assert "gpt-4o-mini" in page and "grok-imagine-video" in page
    video = ListedModel.objects.get(provider=provider, upstream_id="grok-imagine-video")
    mini = ListedModel.objects.get(provider=provider, upstream_id="gpt-4o-mini")
    staff_client.post(reverse("gateways:listed_map", args=[video.pk]), {"model": "grok-4-fast-non-reasoning"})
    staff_client.post(reverse("gateways:listed_ignore", args=[mini.pk]))
    assert Route.objects.filter(provider=provider, upstream_id="grok-imagine-video",
                                model__slug="grok-4-fast-non-reasoning").exists()
    discover(provider)  # both decisions survive the next discovery
    video.refresh_from_db()
    mini.refresh_from_db()
    assert video.status == "mapped" and video.model.slug == "grok-4-fast-non-reasoning"
    assert mini.status == "ignored"
    assert not ListedModel.objects.filter(provider=provider, status="unmapped").exclude(
        upstream_id="claude-sonnet-4-5").exists()


def test_mapping_to_a_missing_model_is_refused(make_provider, staff_client) -> None:
    provider = make_provider("crazyrouter")
    discover(provider)
    mini = ListedModel.objects.get(provider=provider, upstream_id="gpt-4o-mini")
    response = staff_client.post(reverse("gateways:listed_map", args=[mini.pk]), {"model": "no-such-model"},
                                 follow=True)
    assert "Choose the model" in response.content.decode()
    mini.refresh_from_db()
    assert mini.status == "unmapped"
