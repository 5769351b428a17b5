"""The fast path's caches and its early upstream request, as a script sees them (the openai SDK, a real server).

A token's check and its owner's limits are kept per process (teamapi.grants); whatever stops a
token must still stop it on the very next call. Admission may run while the upstream request is
already under way (teamapi.admission); a call it refuses must still relay nothing and bill nothing.
"""
from __future__ import annotations

import json
import uuid

import httpx
import openai
import pytest
from django.contrib.auth.models import Group

from accounts import tokens
from accounts.models import ApiToken, GroupPolicy, Reservation
from gateways.models import Model
from teamapi import grants
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db(transaction=True)
MODEL = "grok-4-1-fast-non-reasoning"


def ask(client, content, **extra):  # type: ignore[no-untyped-def]
    return client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}], **extra)


def warm(client, raw: str) -> None:
    """One call that succeeds, after which this process keeps the token's check."""
    assert ask(client, "Hi [[tokens=2]]").choices
    assert grants.cached(raw) is not None


def test_a_revoked_token_is_refused_on_the_next_call_though_its_check_was_kept(user, emulator_provider, make_token,
                                                                              sdk) -> None:
    raw = make_token(user)
    client = sdk(raw)
    warm(client, raw)
    tokens.revoke(ApiToken.objects.get())
    with pytest.raises(openai.AuthenticationError) as raised:
        ask(client, "Hi again")
    assert raised.value.body["code"] == "token_revoked"


def test_a_token_deleted_in_the_admin_is_refused_on_the_next_call(user, emulator_provider, make_token, sdk) -> None:
    raw = make_token(user)
    client = sdk(raw)
    warm(client, raw)
    ApiToken.objects.get().delete()
    with pytest.raises(openai.AuthenticationError):
        ask(client, "Hi again")


def test_a_disabled_owner_is_refused_on_the_next_call_though_the_check_was_kept(user, emulator_provider, make_token,
                                                                              sdk) -> None:
    raw = make_token(user)
    client = sdk(raw)
    warm(client, raw)
    user.status = user.Status.DISABLED
    user.save(update_fields=["status"])
    with pytest.raises(openai.PermissionDeniedError) as raised:
        ask(client, "Hi again")
    assert raised.value.body["code"] == "account_disabled"


def test_leaving_the_group_a_model_is_limited_to_stops_the_token_on_it(user, emulator_provider, make_token,
                                                                       sdk) -> None:
    from accounts.access import limit_to_groups

    team = Group.objects.create(name="team")
    user.groups.add(team)
    limit_to_groups(Model.objects.get(slug=MODEL), [team])
    raw = make_token(user)
    client = sdk(raw)
    warm(client, raw)
    user.groups.remove(team)
    with pytest.raises(openai.PermissionDeniedError) as raised:
        ask(client, "Hi again")
    assert raised.value.body["code"] == "model_not_allowed"


def test_a_new_group_limit_applies_from_the_next_call(user, emulator_provider, make_token, sdk, settings) -> None:
    team = Group.objects.create(name="team")
    user.groups.add(team)
    raw = make_token(user)
    client = sdk(raw)
    warm(client, raw)
    GroupPolicy.objects.create(group=team, budget_tokens=1)
    with pytest.raises(openai.APIStatusError) as raised:
        ask(client, "Hello there, how are you?")
    assert raised.value.status_code == 402 and raised.value.body["code"] == "budget_exceeded"


def test_a_call_refused_while_its_upstream_request_ran_relays_and_bills_nothing(user, emulator_provider, make_token,
                                                                                sdk, settings) -> None:
    """Two replies already streaming elsewhere (another process, the chat) fill a limit of two: this process
    cannot know, so it asks the gateway at once and admission refuses meanwhile."""
    settings.GROKWEB = {**settings.GROKWEB, "MAX_LIVE_GENERATIONS": 2}
    for _ in range(2):
        Reservation.objects.create(message_id=uuid.uuid4(), user_id=user.pk, holder="api:elsewhere")
    client = sdk(make_token(user))
    for _ in range(2):  # the second is admitted before its upstream request (a refusal was just seen)
        with pytest.raises(openai.RateLimitError) as raised:
            ask(client, "Write slowly [[tokens=50]] [[ttft_ms=3000]]", stream=True)
        assert "being written" in raised.value.message
    assert not UsageRecord.objects.exists()
    assert set(Reservation.objects.values_list("holder", flat=True)) == {"api:elsewhere"}


def test_a_call_admitted_while_its_upstream_request_ran_holds_its_slot_and_frees_it(user, emulator_provider,
                                                                                   make_token, sdk,
                                                                                   ledger_written) -> None:
    with ask(sdk(make_token(user)), "Write at length [[tokens=100000]]", stream=True) as long:
        next(iter(long))
        held = Reservation.objects.get()
        assert held.user_id == user.pk and held.holder.startswith("api:")
    row = ledger_written()
    assert row.outcome == "cancelled" and row.token_id is not None
    assert not Reservation.objects.exists()


def test_a_host_not_served_answers_400_in_openais_shape(user, emulator_provider, make_token, api_url) -> None:
    answer = httpx.post(f"{api_url}/chat/completions", json={"model": MODEL, "messages": []},
                        headers={"Authorization": f"Bearer {make_token(user)}", "Host": "evil.example"})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_request"


def test_a_body_over_the_limit_answers_413(user, emulator_provider, make_token, api_url, settings) -> None:
    settings.GROKWEB = {**settings.GROKWEB, "API_MAX_BODY_BYTES": 100}
    answer = httpx.post(f"{api_url}/chat/completions", json={"model": MODEL, "messages": [
        {"role": "user", "content": "x" * 200}]}, headers={"Authorization": f"Bearer {make_token(user)}"})
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "too_large"


def test_a_reply_the_gateway_sends_at_once_leaves_a_read_at_a_time_its_first_token_alone(
        user, emulator_provider, make_token, api_url, emulator_url) -> None:
    """A gateway with nothing to wait for sends many tokens per read: after the first token (alone, at once),
    the tokens of each read leave in one body message (one HTTP chunk here), each still its own SSE chunk."""
    content = "All at once [[tokens=256]]"
    payload = {"model": MODEL, "messages": [{"role": "user", "content": content}], "stream": True}
    direct = httpx.post(f"{emulator_url}/chat/completions", json={**payload, "stream": False},
                        headers={"Authorization": "Bearer emulator"}).json()["choices"][0]["message"]["content"]
    with httpx.stream("POST", f"{api_url}/chat/completions", json=payload, timeout=30,
                      headers={"Authorization": f"Bearer {make_token(user)}"}) as response:
        assert response.status_code == 200
        pieces = [piece for piece in response.iter_raw() if piece]
    events = [event for event in b"".join(pieces).decode().split("\n\n") if event]
    chunks = [json.loads(event.removeprefix("data: ")) for event in events if event != "data: [DONE]"]
    texts = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    first = json.loads(pieces[0].decode().removeprefix("data: "))
    assert pieces[0].decode().count("data: ") == 1 and first["choices"][0]["delta"]["content"] == texts[0]
    assert "".join(t for t in texts if t) == direct and len([t for t in texts if t]) == 256
    assert events[-1] == "data: [DONE]"
    assert len(pieces) < len(events)  # the tokens of a read went together
