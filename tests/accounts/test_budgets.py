"""Monthly budgets: what counts, which budget applies, and refusals over the websocket."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts.budgets import budget_status, month_start, next_month_start, resets_text
from accounts.models import User
from chat.models import Message
from tests.chat.wsclient import open_socket
from usage.models import UsageRecord

db = database_sync_to_async
USD = 10_000_000_000  # ticks


def spend(user, *, ticks: int = 0, tokens: int = 0, when=None) -> UsageRecord:  # type: ignore[no-untyped-def]
    record = UsageRecord.objects.create(user=user, model_slug="grok-4", price_input=0, price_cached_input=0,
                                        price_output=0, cost_ticks=ticks, total_tokens=tokens)
    if when is not None:
        UsageRecord.objects.filter(pk=record.pk).update(created_at=when)
    return record


@pytest.mark.django_db
def test_no_budget_means_none(user) -> None:
    spend(user, ticks=USD)
    assert budget_status(user) is None


@pytest.mark.django_db
def test_only_this_months_spend_after_a_reset_counts(user) -> None:
    User.objects.filter(pk=user.pk).update(budget_usd=Decimal("10"), budget_tokens=1000)
    user.refresh_from_db()
    spend(user, ticks=5 * USD, tokens=100, when=month_start() - timedelta(seconds=1))  # last month
    spend(user, ticks=8 * USD, tokens=100)
    status = budget_status(user)
    assert status is not None and status.source == "user"
    assert (status.spent_ticks, status.spent_tokens) == (8 * USD, 100)
    assert status.remaining_ticks == 2 * USD and status.remaining_tokens == 900
    assert status.fraction == pytest.approx(0.8) and status.warning and not status.exceeded
    spend(user, ticks=2 * USD)
    assert budget_status(user).exceeded  # type: ignore[union-attr]
    User.objects.filter(pk=user.pk).update(budget_reset_at=timezone.now())
    user.refresh_from_db()
    spend(user, ticks=USD)
    after = budget_status(user)
    assert after is not None and after.spent_ticks == USD and not after.warning


@pytest.mark.django_db
def test_a_group_budget_is_shared_by_its_members(user, make_user, make_group) -> None:
    bob = make_user("bob")
    make_group("writers", tokens=1000, members=(user, bob))
    spend(bob, tokens=600)
    spend(user, tokens=300)
    status = budget_status(user)
    assert status is not None and status.source == "group:writers" and status.spent_tokens == 900
    assert status.remaining_tokens == 100 and status.warning


@pytest.mark.django_db
def test_a_per_user_override_beats_the_group(user, make_group) -> None:
    make_group("writers", tokens=100, members=(user,))
    spend(user, tokens=500)
    assert budget_status(user).exceeded  # type: ignore[union-attr]
    User.objects.filter(pk=user.pk).update(budget_tokens=10_000)
    user.refresh_from_db()
    status = budget_status(user)
    assert status is not None and status.source == "user" and not status.exceeded
    assert status.remaining_tokens == 9_500


@pytest.mark.django_db
def test_a_member_with_an_own_budget_does_not_draw_on_the_group_pool(user, make_user, make_group) -> None:
    bob = make_user("bob", budget_tokens=5_000)
    make_group("writers", tokens=1000, members=(user, bob))
    spend(bob, tokens=900)
    spend(user, tokens=300)
    mine, his = budget_status(user), budget_status(bob)
    assert mine is not None and mine.source == "group:writers" and mine.remaining_tokens == 700
    assert his is not None and his.source == "user" and his.remaining_tokens == 4_100


@pytest.mark.django_db
def test_in_several_groups_the_strictest_budget_is_reported(user, make_group) -> None:
    make_group("generous", usd="100", members=(user,))
    make_group("strict", usd="1", members=(user,))
    make_group("no-budget", per_minute=50, members=(user,))
    spend(user, ticks=USD // 2)
    status = budget_status(user)
    assert status is not None and status.source == "group:strict" and status.fraction == pytest.approx(0.5)


@pytest.mark.django_db
def test_the_budget_endpoint_shows_the_warning_at_80_percent(logged_in, user) -> None:
    assert logged_in.get("/api/me/budget/").json() == {"budget": None}
    User.objects.filter(pk=user.pk).update(budget_usd=Decimal("5"))
    spend(user, ticks=4 * USD - 1)
    body = logged_in.get("/api/me/budget/").json()["budget"]
    assert body["warning"] is False and body["remaining_usd"] == "1.0000000001"
    spend(user, ticks=1)
    body = logged_in.get("/api/me/budget/").json()["budget"]
    assert body["warning"] is True and body["exceeded"] is False and body["remaining_usd"] == "1"
    assert body["limit_usd"] == "5" and body["spent_usd"] == "4" and body["source"] == "user"
    assert datetime.fromisoformat(body["resets_at"]) == next_month_start()


def test_a_month_starts_afresh_on_the_first_in_the_sites_time_zone(settings) -> None:
    settings.TIME_ZONE = "America/New_York"
    late_december = datetime(2027, 1, 1, 3, 0, tzinfo=UTC)  # still 31 December in New York
    assert month_start(late_december).isoformat() == "2026-12-01T00:00:00-05:00"
    assert next_month_start(late_december).isoformat() == "2027-01-01T00:00:00-05:00"
    assert resets_text(late_december) == "1 January 2027"
    assert resets_text(datetime(2026, 11, 23, tzinfo=UTC)) == "1 December"


# Over the websocket ---------------------------------------------------------


async def _refused(socket, **frame):  # type: ignore[no-untyped-def]
    request_id = str(uuid.uuid4())
    await socket.send({"request_id": request_id, **frame})
    return await socket.until("error", request_id=request_id)


@pytest.mark.django_db(transaction=True)
async def test_a_reply_that_reaches_the_limit_is_cut_billed_and_the_next_send_is_refused(user,
                                                                                         emulator_provider) -> None:
    await db(User.objects.filter(pk=user.pk).update)(budget_tokens=80)
    socket = await open_socket(user)
    created = await socket.chat("Write a lot [[tokens=2000]]")
    reply = created["assistant_message"]["id"]
    cut = await socket.until("message.error", message=reply)
    assert cut["code"] == "budget_exceeded" and "budget" in cut["detail"] and cut["content"]  # its text is kept
    stored = await db(Message.objects.get)(id=reply)
    assert stored.status == "error" and stored.content == cut["content"]
    record = await db(UsageRecord.objects.get)(message_id=reply)
    assert record.estimated and record.completion_tokens > 0  # billed for what was written
    # Cut at the limit (the reservation counts the prompt on the high side), at most one upstream event
    # (one word here: a few tokens) past it, never the whole 2,000 tokens.
    assert 60 <= record.total_tokens <= 80 + 5

    error = await _refused(socket, type="send", conversation=created["conversation"], content="more")
    assert error["code"] == "budget_exceeded" and error["remaining_tokens"] < 10  # less than its prompt
    assert "monthly budget is used up" in error["detail"] and f"afresh on {resets_text()}." in error["detail"]
    error = await _refused(socket, type="regenerate", message=reply)
    assert error["code"] == "budget_exceeded"
    error = await _refused(socket, type="edit", message=created["user_message"]["id"], content="other")
    assert error["code"] == "budget_exceeded"
    assert await db(Message.objects.count)() == 2  # nothing stored for the refused ones
    await socket.close()


@pytest.mark.django_db(transaction=True)
async def test_a_reply_within_its_reservation_is_not_cut(user, emulator_provider) -> None:
    """max_tokens 60 fits the budget: the reply runs to its end, and the gateway was asked for no more."""
    await db(User.objects.filter(pk=user.pk).update)(budget_tokens=1000)
    socket = await open_socket(user)
    created = await socket.chat("Write a lot [[tokens=2000]]", params={"max_tokens": 60})
    done = await socket.until("message.done", message=created["assistant_message"]["id"])
    assert done["status"] == "complete" and done["usage"]["completion_tokens"] == 60
    assert done["finish_reason"] == "length"
    await socket.close()


@pytest.mark.django_db(transaction=True)
async def test_a_usd_refusal_says_how_much_is_left(user, make_group, emulator_provider) -> None:
    await db(make_group)("writers", usd="0.01", members=(user,))
    await db(spend)(user, ticks=USD // 100 - 5)  # 5 ticks left: less than any prompt costs
    socket = await open_socket(user)
    error = await _refused(socket, type="send", conversation=None, content="hello " * 50)
    assert error["code"] == "budget_exceeded" and error["remaining_usd"] == "0.0000000005"
    assert error["remaining_tokens"] is None and "'writers' group's monthly budget" in error["detail"]
    await socket.close()


@pytest.mark.django_db(transaction=True)
async def test_a_streaming_reply_reserves_its_worst_case(user, emulator_provider) -> None:
    """Room for one prompt: the second send is refused while the first reply is still streaming."""
    prompt = "x" * 400  # about 100 tokens
    await db(User.objects.filter(pk=user.pk).update)(budget_tokens=150)
    socket = await open_socket(user)
    created = await socket.chat(prompt + " [[tokens=100000]] [[tps=5]]")  # slow: still streaming below
    error = await _refused(socket, type="send", conversation=None, content=prompt)
    # The first reply holds the worst case it can cost (here: all that was left) while it streams.
    assert error["code"] == "budget_exceeded" and error["remaining_tokens"] == 0 and "being written" in error["detail"]
    await socket.send({"type": "stop", "message": created["assistant_message"]["id"]})
    await socket.until("message.done", message=created["assistant_message"]["id"])
    await socket.close()


@pytest.mark.django_db
def test_over_budget_a_chat_is_named_by_its_first_words_without_an_upstream_call(user, emulator_provider) -> None:
    from chat.models import Conversation
    from chat.titles import write_title
    from gateways.models import Model

    User.objects.filter(pk=user.pk).update(budget_tokens=100)
    spend(user, tokens=100)
    conversation = Conversation.objects.create(owner=user, model=Model.objects.get(slug="grok-4-1-fast-reasoning"))
    question = Message.objects.create(conversation=conversation, role="user", content="Plan a trip to Lisbon in May")
    conversation.current_leaf = question
    conversation.save()
    assert write_title(conversation.id) == "Plan a trip to Lisbon in May"
    assert not UsageRecord.objects.filter(purpose="title").exists()  # no call, so nothing billed past the limit
    User.objects.filter(pk=user.pk).update(budget_tokens=None)
    Conversation.objects.filter(pk=conversation.pk).update(title="")
    assert write_title(conversation.id) and UsageRecord.objects.filter(purpose="title").count() == 1


def _raise_prices(prices, value: Decimal) -> None:  # type: ignore[no-untyped-def]
    """Edit the dated prices as the admin does (a save per row, so cached prices are renewed)."""
    for price in prices:
        price.input = value
        price.save(update_fields=["input"])


@pytest.mark.django_db(transaction=True)
async def test_the_prompt_estimate_uses_the_price_the_call_will_be_billed_at(user, emulator_provider) -> None:
    """$0.01 covers this prompt at the catalog price ($0.20/M) but not at the gateway's dated $100/M."""
    from gateways.models import Price

    await db(User.objects.filter(pk=user.pk).update)(budget_usd=Decimal("0.01"))
    socket = await open_socket(user)
    created = await socket.chat("hello " * 500 + "[[tokens=5]]")  # about 750 prompt tokens
    await socket.until("message.done", message=created["assistant_message"]["id"])
    await db(_raise_prices)(Price.objects.filter(provider=emulator_provider), Decimal("100"))
    error = await _refused(socket, type="send", conversation=None, content="hello " * 500)
    assert error["code"] == "budget_exceeded"
    await socket.close()
