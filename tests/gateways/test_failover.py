"""Failover between gateways, seen by a websocket client: one uninterrupted reply, the ledger names the route."""
from __future__ import annotations

import time

import pytest
from channels.db import database_sync_to_async

from chat.models import Message
from gateways.breaker import Breaker, route_key
from gateways.discovery import discover
from gateways.models import Attempt, Provider, Route
from tests.chat.wsclient import open_socket
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db(transaction=True)
db = database_sync_to_async
MODEL = "grok-4-1-fast-non-reasoning"


def _two_routes(make_provider, fault: str | None, *, second_fault: str | None = None):  # type: ignore[no-untyped-def]
    """xAI first (answering with `fault`), AI/ML API second; both serve the catalog."""
    first = make_provider("xai", headers={"X-Emulator-Fault": fault} if fault else {})
    second = make_provider("aimlapi", headers={"X-Emulator-Fault": second_fault} if second_fault else {})
    discover(first)
    discover(second)
    routes = list(Route.objects.filter(model__slug=MODEL).order_by("priority"))
    assert [r.provider_id for r in routes] == [first.id, second.id]
    return routes


async def _reply(socket, text: str) -> tuple[dict, dict]:  # type: ignore[no-untyped-def]
    """Send, and return (message.created, the final frame) for the reply."""
    created = await socket.chat(text, model=MODEL)
    reply = created["assistant_message"]["id"]
    while True:
        frame = await socket.recv()
        if frame["type"] in ("message.done", "message.error") and frame["message"] == reply:
            return created, frame


def _deltas(socket, message_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return [f for f in socket.seen if f["type"] == "message.delta" and f["message"] == message_id]


def _attempts() -> list[tuple[int, str]]:
    return list(Attempt.objects.order_by("id").values_list("route_id", "outcome"))


@pytest.mark.parametrize(("fault", "code"), [
    ("503", "upstream_unavailable"),
    ("429:7", "upstream_rate_limited"),
    ("drop:0", "upstream_unavailable"),  # the connection drops before the first token
    ("500", "upstream_unavailable"),
])
async def test_a_failing_gateway_hands_the_reply_to_the_next_one(user, make_provider, fault, code) -> None:
    bad, good = await db(_two_routes)(make_provider, fault)
    socket = await open_socket(user)
    created, end = await _reply(socket, "Tell me about orbits [[tokens=60]]")
    reply_id = created["assistant_message"]["id"]
    assert end["type"] == "message.done" and end["status"] == "complete"
    deltas = _deltas(socket, reply_id)
    assert [d["seq"] for d in deltas] == list(range(1, len(deltas) + 1))
    assert "".join(d["content"] for d in deltas) == end["content"] and len(end["content"]) > 100
    assert not [f for f in socket.seen if f["type"] in ("message.error", "error")]
    stored = await db(Message.objects.get)(id=reply_id)
    assert stored.status == "complete" and stored.content == end["content"]
    records = await db(list)(UsageRecord.objects.filter(message_id=reply_id))
    assert len(records) == 1 and records[0].route_id == good.id and records[0].provider_id == good.provider_id
    assert records[0].upstream_model == "x-ai/grok-4-1-fast-non-reasoning"
    assert await db(_attempts)() == [(bad.id, code), (good.id, "ok")]
    # The failed attempt is an upstream call too: its own ledger row, unbilled, in this conversation.
    failed = await db(list)(UsageRecord.objects.filter(conversation_id=created["conversation"], message=None,
                                                       purpose="chat"))
    assert [(r.route_id, r.outcome, r.cost_ticks, r.total_tokens) for r in failed] == [(bad.id, "error", 0, 0)]
    await socket.close()


async def test_a_gateway_that_refuses_connections_hands_the_reply_over(user, make_provider, free_port) -> None:
    """Nothing listens at the first gateway's address any more (the host is down): the next one answers."""
    bad, good = await db(_two_routes)(make_provider, None)
    await db(Provider.objects.filter(pk=bad.provider_id).update)(
        base_url=f"http://127.0.0.1:{free_port}/v1")
    socket = await open_socket(user)
    created, end = await _reply(socket, "Anyone there? [[tokens=40]]")
    assert end["type"] == "message.done" and end["content"]
    assert "".join(d["content"] for d in _deltas(socket, created["assistant_message"]["id"])) == end["content"]
    assert await db(_attempts)() == [(bad.id, "upstream_unavailable"), (good.id, "ok")]
    await socket.close()


async def test_a_gateway_silent_past_its_first_token_timeout_hands_the_reply_over(user, make_provider) -> None:
    """A gateway that accepts the request and then says nothing: after its first-token timeout, the next one."""
    bad, good = await db(_two_routes)(make_provider, "stall:0")
    await db(Provider.objects.filter(pk=bad.provider_id).update)(first_token_timeout=0.3)
    socket = await open_socket(user)
    created, end = await _reply(socket, "Hello? [[tokens=40]]")
    assert end["type"] == "message.done" and end["content"]
    assert await db(_attempts)() == [(bad.id, "timeout"), (good.id, "ok")]
    stored = await db(Message.objects.get)(id=created["assistant_message"]["id"])
    assert stored.ttft_ms is not None and stored.ttft_ms >= 300  # the wait is part of what the user saw
    await socket.close()


async def test_the_same_reply_as_a_healthy_gateway_would_have_written(user, make_provider) -> None:
    """Nothing from the failed attempt leaks in: the text equals a direct answer to the same prompt."""
    await db(_two_routes)(make_provider, "drop:0")
    socket = await open_socket(user)
    _, failed_over = await _reply(socket, "Same words [[tokens=80]]")
    await socket.close()
    await db(Route.objects.filter(provider__kind="xai").update)(enabled=False)
    socket = await open_socket(user)
    _, direct = await _reply(socket, "Same words [[tokens=80]]")
    assert failed_over["content"] == direct["content"]
    await socket.close()


async def test_retry_after_on_429_sets_the_cool_down(user, make_provider) -> None:
    bad, good = await db(_two_routes)(make_provider, "429:7")
    socket = await open_socket(user)
    await _reply(socket, "first")
    until = Breaker().open_until(route_key(bad.id, bad.provider_id, bad.upstream_id))
    assert until is not None and 5 < until - time.time() <= 8
    _, end = await _reply(socket, "second")
    assert end["type"] == "message.done"
    assert await db(_attempts)() == [(bad.id, "upstream_rate_limited"), (good.id, "ok"), (good.id, "ok")]
    await socket.close()


async def test_a_route_that_keeps_failing_is_skipped(user, make_provider) -> None:
    bad, good = await db(_two_routes)(make_provider, "503")
    socket = await open_socket(user)
    for n in range(4):
        _, end = await _reply(socket, f"message {n}")
        assert end["type"] == "message.done"
    attempts = await db(_attempts)()
    assert [a for a in attempts if a[0] == bad.id] == [(bad.id, "upstream_unavailable")] * 3  # then the circuit opened
    assert [a for a in attempts if a[0] == good.id] == [(good.id, "ok")] * 4
    assert Breaker().is_open(route_key(bad.id, bad.provider_id, bad.upstream_id))
    await socket.close()


async def test_content_policy_is_not_retried_elsewhere(user, make_provider) -> None:
    bad, good = await db(_two_routes)(make_provider, "403_policy")
    socket = await open_socket(user)
    created, end = await _reply(socket, "something forbidden")
    assert end["type"] == "message.error" and end["code"] == "content_blocked" and not end["retryable"]
    assert await db(_attempts)() == [(bad.id, "content_blocked")]
    record = await db(UsageRecord.objects.get)(message_id=created["assistant_message"]["id"])
    assert record.route_id == bad.id and record.outcome == "error"
    assert not Breaker().is_open(route_key(bad.id, bad.provider_id, bad.upstream_id))
    await socket.close()


async def test_after_the_first_token_there_is_no_failover(user, make_provider) -> None:
    bad, good = await db(_two_routes)(make_provider, "stream_error:5")
    socket = await open_socket(user)
    created, end = await _reply(socket, "cut short [[tokens=60]]")
    assert end["type"] == "message.error" and end["code"] == "upstream_unavailable"
    assert end["content"] and end["content"] == "".join(
        d["content"] for d in _deltas(socket, created["assistant_message"]["id"]))
    assert await db(_attempts)() == [(bad.id, "upstream_unavailable")]
    await socket.close()


async def test_when_every_route_fails_the_reply_ends_as_an_error(user, make_provider) -> None:
    bad, other = await db(_two_routes)(make_provider, "503", second_fault="503")
    socket = await open_socket(user)
    created, end = await _reply(socket, "nobody home")
    assert end["type"] == "message.error" and end["code"] == "upstream_unavailable" and end["retryable"]
    assert await db(_attempts)() == [(bad.id, "upstream_unavailable"), (other.id, "upstream_unavailable")]
    rows = await db(list)(UsageRecord.objects.filter(conversation_id=created["conversation"]).order_by("id")
                          .values_list("route_id", "message_id", "outcome"))
    assert [(route, message is None, outcome) for route, message, outcome in rows] == [
        (bad.id, True, "error"), (other.id, False, "error")]  # one row per call: the last one is the reply's
    await socket.close()


async def test_when_every_route_is_cooling_down_the_reply_is_refused_at_once(user, make_provider) -> None:
    bad, other = await db(_two_routes)(make_provider, "429:30", second_fault="429:30")
    socket = await open_socket(user)
    await _reply(socket, "first")
    created, end = await _reply(socket, "second")
    assert end["type"] == "message.error" and end["code"] == "upstream_unavailable"
    assert "Try again in" in end["detail"]
    assert end["retryable"] is True and 25 <= end["retry_after"] <= 30  # as the protocol's table says
    # Every message.error carries the same fields: no text and no usage (nothing was sent, nothing billed).
    assert end["content"] == "" and "usage" in end and end["usage"] is None
    assert len(await db(_attempts)()) == 2  # the second reply never reached a gateway (it asked to wait)
    await socket.close()


async def test_staff_see_the_serving_route_members_do_not(make_user, make_provider) -> None:
    await db(_two_routes)(make_provider, "503")
    admin = await db(make_user)("boss", is_staff=True)
    member = await db(make_user)("worker")
    for person, sees in ((admin, True), (member, False)):
        socket = await open_socket(person)
        _, end = await _reply(socket, "who answered?")
        assert ("route" in end) is sees
        if sees:
            assert end["route"] == {"provider": "AI/ML API", "upstream_id": "x-ai/grok-4-1-fast-non-reasoning"}
        await socket.close()


def _store_key(provider_id: int, token: str) -> None:
    """A stored key that no longer decrypts, saved as the app saves (so cached route plans are renewed)."""
    provider = Provider.objects.get(pk=provider_id)
    provider.api_key_encrypted = token
    provider.save(update_fields=["api_key_encrypted"])


async def test_a_provider_whose_stored_key_no_longer_decrypts_is_skipped(user, make_provider, caplog) -> None:
    """FIELD_ENCRYPTION_KEY changed without a rotation: that gateway is passed over, with a log line saying why."""
    bad, good = await db(_two_routes)(make_provider, None)
    await db(_store_key)(bad.provider_id, "gAAAAABnot-a-valid-token")
    socket = await open_socket(user)
    _, end = await _reply(socket, "Still there? [[tokens=20]]")
    assert end["type"] == "message.done" and end["content"]
    assert await db(_attempts)() == [(good.id, "ok")]
    assert "cannot be decrypted" in caplog.text and "xAI" in caplog.text
    await db(_store_key)(good.provider_id, "gAAAAABnot-valid-either")
    _, end = await _reply(socket, "And now?")
    assert end["type"] == "message.error" and end["code"] == "upstream_auth" and "enter it again" in end["detail"]
    await socket.close()


async def test_a_failed_attempt_no_later_route_takes_over_stays_the_replys_own_call(emulator_url) -> None:
    """The next route's breaker opened meanwhile: the failed call is the reply's (no second ledger row)."""
    from gateways.failover import FailoverStream, RouteChoice
    from gateways.wire.client import ChatRequest, Endpoint, UpstreamClient
    from gateways.wire.errors import UpstreamError

    bad = RouteChoice(1, 1, "bad", MODEL, Endpoint(emulator_url, "k", headers={"X-Emulator-Fault": "503"}), "t-bad")
    resting = RouteChoice(2, 2, "resting", MODEL, Endpoint(emulator_url, "k"), "t-resting")
    breaker = Breaker()
    breaker.failure(resting.key, retry_after=30)
    handed: list[str] = []

    async def failed_over(choice: RouteChoice, exc: UpstreamError) -> None:
        handed.append(choice.provider_name)

    async with UpstreamClient() as client:
        stream = FailoverStream(client, [bad, resting],
                                ChatRequest(MODEL, [{"role": "user", "content": "hi"}]),
                                breaker=breaker, failed_over=failed_over)
        with pytest.raises(UpstreamError) as caught:
            async for _ in stream:
                pass
    assert caught.value.code == "upstream_unavailable"
    assert handed == [] and stream.served is bad  # the reply's own row names the route that failed
    breaker.success(resting.key)
    breaker.success(bad.key)
