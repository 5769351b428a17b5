"""Breaker and deadlines (issue 13): what a silent or failing gateway costs the person waiting.

Only failures before the first token count against a route; a model's last route is never
rested outright (one trial call at a time); a silent gateway is asked once; the reply as a
whole has a deadline to start; the tab hears whom it is waiting for.
"""
from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from gateways.breaker import Breaker, route_key
from gateways.discovery import discover
from gateways.models import Provider, Route
from tests.chat.wsclient import open_socket
from tests.gateways.test_failover import MODEL, _attempts, _reply, _two_routes

pytestmark = pytest.mark.django_db(transaction=True)
db = database_sync_to_async


def _one_route(make_provider, **fields):  # type: ignore[no-untyped-def]
    """xAI alone serves the model: its route is the model's last one."""
    provider = make_provider("xai")
    discover(provider)
    if fields:
        Provider.objects.filter(pk=provider.pk).update(**fields)
    return Route.objects.get(model__slug=MODEL)


def _key(route: Route) -> str:
    return route_key(route.id, route.provider_id, route.upstream_id)


def _waiting(socket, reply_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return [f for f in socket.seen if f["type"] == "message.waiting" and f["message"] == reply_id]


@pytest.fixture
def quick_notice(settings):  # type: ignore[no-untyped-def]
    settings.GROKWEB = {**settings.GROKWEB, "WAITING_NOTICE_S": 0.2}


async def test_drops_mid_stream_do_not_rest_the_route(user, make_provider) -> None:
    """Four replies cut after their first words: each ends with its text, and the next one still reaches the gateway."""
    route = await db(_one_route)(make_provider)
    socket = await open_socket(user)
    for n in range(4):
        _, end = await _reply(socket, f"part {n} [[tokens=40]] [[fault:drop:5]]")
        assert end["type"] == "message.error" and end["code"] == "upstream_unavailable" and end["retryable"]
        assert end["content"]  # the words that arrived are kept
    assert not Breaker().is_open(_key(route))
    _, end = await _reply(socket, "whole this time [[tokens=20]]")
    assert end["type"] == "message.done" and end["content"]
    assert await db(_attempts)() == [(route.id, "upstream_unavailable")] * 4 + [(route.id, "ok")]
    await socket.close()


async def test_a_silent_gateway_is_asked_once_and_the_tab_hears_whom_it_waits_for(
        user, make_provider, gateways, quick_notice) -> None:
    route = await db(_one_route)(make_provider, first_token_timeout=0.6, max_retries=2)
    socket = await open_socket(user)
    created, end = await _reply(socket, "Hello? [[fault:fail_first:99:stall:0:silent-once]]")
    reply_id = created["assistant_message"]["id"]
    assert end["type"] == "message.error" and end["code"] == "timeout" and end["retryable"] is True
    assert "0.6 s" in end["detail"]
    # Not asked again although max_retries is 2: the same silence would cost the same wait.
    assert gateways["xai"].app.counters["silent-once"] == 1
    assert await db(_attempts)() == [(route.id, "timeout")]
    assert _waiting(socket, reply_id) == [{"type": "message.waiting", "message": reply_id, "gateway": "xAI",
                                           "waited_s": 0.2}]
    assert socket.seen.index(_waiting(socket, reply_id)[0]) < socket.seen.index(end)
    await socket.close()


async def test_no_waiting_notice_once_text_flows(user, make_provider, quick_notice) -> None:
    await db(_one_route)(make_provider)
    socket = await open_socket(user)
    created, end = await _reply(socket, "quick [[tokens=20]]")
    assert end["type"] == "message.done"
    assert _waiting(socket, created["assistant_message"]["id"]) == []
    await socket.close()


async def test_the_reply_has_one_deadline_to_start_over_every_route(user, make_provider, gateways, settings) -> None:
    """Both gateways silent, each allowed 30 s: the reply still ends at its own deadline, the second never asked."""
    settings.GROKWEB = {**settings.GROKWEB, "REPLY_START_DEADLINE_S": 0.5}
    first, second = await db(_two_routes)(make_provider, None)
    socket = await open_socket(user)
    _, end = await _reply(socket, "anyone? [[fault:fail_first:99:stall:0:both-silent]]")
    assert end["type"] == "message.error" and end["code"] == "timeout" and end["retryable"] is True
    assert "within 0.5 s" in end["detail"]
    assert gateways["xai"].app.counters["both-silent"] == 1
    assert "both-silent" not in gateways["aimlapi"].app.counters
    assert await db(_attempts)() == [(first.id, "timeout")]
    await socket.close()


async def test_the_only_route_is_never_rested_outright_one_trial_at_a_time(user, make_provider, quick_notice) -> None:
    route = await db(_one_route)(make_provider)
    socket = await open_socket(user)
    for n in range(3):  # a 503 storm: the route rests
        _, end = await _reply(socket, f"storm {n} [[fault:503]]")
        assert end["type"] == "message.error" and end["code"] == "upstream_unavailable" and end["retryable"]
    assert Breaker().is_open(_key(route))

    # Resting, yet the next reply still reaches the gateway: the trial call. It hangs (held in flight here).
    trial = (await socket.chat("trial [[fault:stall:0]]", model=MODEL))["assistant_message"]["id"]
    await socket.until("message.waiting", message=trial)
    # Meanwhile no second call goes to the resting gateway: refused at once, saying when to try again.
    created, end = await _reply(socket, "meanwhile")
    assert end["type"] == "message.error" and end["code"] == "upstream_unavailable"
    assert end["retryable"] is True and end["retry_after"] >= 1
    await socket.send({"type": "stop", "message": trial})
    stopped = await socket.until("message.done", message=trial)
    assert stopped["status"] == "cancelled"

    # The trial ended: the next reply is the next trial; the gateway is back, so the route closes for everyone.
    _, end = await _reply(socket, "healed [[tokens=20]]")
    assert end["type"] == "message.done" and end["content"]
    assert not Breaker().is_open(_key(route))
    _, end = await _reply(socket, "and again [[tokens=20]]")
    assert end["type"] == "message.done"
    outcomes = [outcome for _, outcome in await db(_attempts)()]
    assert outcomes[:3] == ["upstream_unavailable"] * 3 and outcomes[-2:] == ["ok", "ok"]
    await socket.close()


async def test_a_failed_trial_rests_the_route_again(user, make_provider) -> None:
    route = await db(_one_route)(make_provider)
    await db(Provider.objects.filter(pk=route.provider_id).update)(headers={"X-Emulator-Fault": "503"})
    socket = await open_socket(user)
    for n in range(4):  # three to rest it, then the trial: it reached the gateway, and failed
        _, end = await _reply(socket, f"storm {n}")
        assert end["type"] == "message.error" and end["code"] == "upstream_unavailable"
    assert await db(_attempts)() == [(route.id, "upstream_unavailable")] * 4
    assert Breaker().is_open(_key(route))
    _, end = await _reply(socket, "again")  # the trial is over: the next reply takes the next one
    assert await db(_attempts)() == [(route.id, "upstream_unavailable")] * 5
    await socket.close()
