"""The report and "My usage": who may read what, the shapes of PROTOCOL.md, CSV equal to the page and the API."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.test import Client
from django.urls import reverse

from usage import rollups

pytestmark = pytest.mark.django_db
ROW_KEYS = {"key", "requests", "prompt_tokens", "cached_tokens", "completion_tokens", "reasoning_tokens",
            "total_tokens", "cost_usd"}


@pytest.fixture
def usage_data(make_user, staff, record, today):  # type: ignore[no-untyped-def]
    alice, bob = make_user("alice"), make_user("bob")
    record(alice, "grok-4-fast-reasoning", today - dt.timedelta(days=3), prompt=165, cached=164, visible=2,
           reasoning=129, stated=739000)
    record(alice, "grok-code-fast-1", today - dt.timedelta(days=1), prompt=86, cached=86, visible=79, reasoning=214,
           reconciles=False)
    record(bob, "grok-4-0709", today - dt.timedelta(days=2), prompt=1000, visible=500, estimated=True,
           outcome="cancelled")
    record(bob, "grok-4-fast-reasoning", today, prompt=50, visible=10, purpose="title")
    rollups.refresh()
    record(alice, "grok-3-mini", today, prompt=300, visible=40, reasoning=60)  # today, not rolled up
    return {"alice": alice, "bob": bob}


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def _csv(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_a_member_cannot_read_the_report_page_api_or_csv(usage_data) -> None:
    member = _client(usage_data["alice"])
    assert member.get(reverse("usage:report")).status_code == 403
    assert member.get(reverse("usage:report_csv") + "?table=user").status_code == 403
    assert member.get(reverse("usage:report_csv") + "?table=ledger").status_code == 403
    assert member.get("/api/usage/report?group_by=user").status_code == 403
    assert member.get("/api/usage/report?group_by=user&format=csv").status_code == 403


def test_anonymous_users_are_sent_to_sign_in_or_get_401(usage_data) -> None:
    anonymous = Client()
    for url in (reverse("usage:report"), reverse("usage:me")):
        answer = anonymous.get(url)
        assert answer.status_code == 302 and "/accounts/login/" in answer["Location"]
    assert anonymous.get("/api/usage/report").status_code == 401
    assert anonymous.get("/api/usage/me").status_code == 401


def test_my_usage_shows_only_my_own_calls(usage_data, today) -> None:
    bob = _client(usage_data["bob"])
    answer = bob.get("/api/usage/me", {"from": str(today - dt.timedelta(days=7)), "to": str(today)})
    assert answer.status_code == 200
    body = answer.json()
    assert body["totals"]["requests"] == 2 and body["totals"]["prompt_tokens"] == 1050
    assert {r["key"] for r in body["models"]} == {"grok-4-0709", "grok-4-fast-reasoning"}
    assert [r["key"] for r in body["rows"]] == [str(today - dt.timedelta(days=2)), str(today)]
    assert all(ROW_KEYS <= set(row) for row in body["rows"])
    assert set(body) >= {"from", "to", "totals", "rows", "models", "budget"} and body["budget"] is None
    page = bob.get(reverse("usage:me"), {"preset": "7d"}).content.decode()
    assert "grok-4-0709" in page and "grok-code-fast-1" not in page and "grok-3-mini" not in page
    rows = _csv(bob.get(reverse("usage:me_csv"), {"table": "ledger", "preset": "7d"}))
    assert {r["user"] for r in rows} == {"bob"} and len(rows) == 2
    # There is no parameter that shows someone else's usage.
    other = bob.get("/api/usage/me", {"user": usage_data["alice"].pk}).json()
    assert other["totals"]["requests"] == 2


@pytest.mark.parametrize("group_by", ["user", "model", "day", "provider"])
def test_the_report_api_has_protocol_shapes_and_csv_matches_it(usage_data, staff, today, group_by) -> None:
    client = _client(staff)
    query = {"from": str(today - dt.timedelta(days=6)), "to": str(today), "group_by": group_by}
    body = client.get("/api/usage/report", query).json()
    assert isinstance(body, list) and body and all(ROW_KEYS <= set(row) for row in body)
    assert all(re.fullmatch(r"\d+(\.\d+)?", row["cost_usd"]) for row in body)
    assert sum(r["requests"] for r in body) == 5
    rows = _csv(client.get("/api/usage/report", {**query, "format": "csv"}))
    assert [(r["key"], int(r["requests"]), int(r["total_tokens"]), r["cost_usd"]) for r in rows] == [
        (r["key"], r["requests"], r["total_tokens"], r["cost_usd"]) for r in body]


def test_the_report_shows_the_recorded_stream_at_its_exact_cost(usage_data, staff, today) -> None:
    day = str(today - dt.timedelta(days=3))
    [row] = _client(staff).get("/api/usage/report", {"from": day, "to": day, "group_by": "model"}).json()
    assert row["key"] == "grok-4-fast-reasoning" and row["cost_usd"] == "0.0000739"
    assert row["stated_cost_usd"] == "0.0000739" and row["stated_difference_usd"] == "0"


def test_the_report_page_tables_match_the_api_and_csv(usage_data, staff, today) -> None:
    client = _client(staff)
    page = client.get(reverse("usage:report"), {"preset": "7d"})
    assert page.status_code == 200
    html = page.content.decode()
    for table in ("user", "model", "provider", "day"):
        api = client.get("/api/usage/report", {"from": str(today - dt.timedelta(days=6)), "to": str(today),
                                               "group_by": table}).json()
        csv_rows = _csv(client.get(reverse("usage:report_csv"), {"preset": "7d", "table": table}))
        section = html.split(f'id="by-{table}"', 1)[1].split("</section>", 1)[0]
        shown = re.findall(r'data-key="([^"]+)".*?data-col="requests">([\d,]+)<.*?data-col="total_tokens">([\d,]+)<'
                           r'.*?data-usd="([^"]+)"', section, re.S)
        assert [(k, int(n.replace(",", "")), int(t.replace(",", "")), c) for k, n, t, c in shown] == [
            (r["key"], r["requests"], r["total_tokens"], r["cost_usd"]) for r in api]
        assert [(r["key"], r["cost_usd"]) for r in csv_rows] == [(r["key"], r["cost_usd"]) for r in api]
    assert "<svg" in html and "Cost per day, by model" in html and "Top users by cost" in html
    assert "{#" not in html and "{%" not in html  # no template comment or tag shows through
    assert "1 call had usage numbers that do not reconcile" in html


def test_the_report_page_costs_the_same_few_queries_whatever_the_range_and_the_people(
        usage_data, staff, make_user, record, today) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = _client(staff)

    def queries(**query: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("usage:report"), query).status_code == 200
        return len(captured)

    def month(**extra: str) -> int:
        return queries(**{"from": str(today - dt.timedelta(days=29)), "to": str(today), **extra})

    week, month_before = queries(preset="7d"), month()
    for n in range(5):
        record(make_user(f"extra{n}"), "grok-3-mini", today - dt.timedelta(days=n + 8), prompt=10 + n)
    rollups.refresh()
    # Session and user; the watermark; rollups and ledger for the users, for the day x provider x model read
    # behind the by-model, by-provider, by-day tables and the chart, and for sources x tokens; the names.
    assert week == month_before == month() <= 12
    assert month(user="alice") <= 12 + 4  # the drill-down: the person, and their report by model


def test_names_in_the_report_tables_are_shown_as_text(usage_data, staff, emulator_provider) -> None:
    emulator_provider.name = 'Tom & Jerry <b>"gw"</b>'
    emulator_provider.save()
    html = _client(staff).get(reverse("usage:report"), {"preset": "7d"}).content.decode()
    section = html.split('id="by-provider"', 1)[1].split("</section>", 1)[0]
    assert 'data-key="Tom &amp; Jerry &lt;b&gt;&quot;gw&quot;&lt;/b&gt;"' in section
    assert "<b>" not in section
    users = html.split('id="by-user"', 1)[1].split("</section>", 1)[0]
    assert 'href="/usage/report/?from=' in users and '&amp;user=alice#drill">alice</a>' in users


def test_the_drill_down_shows_one_users_models(usage_data, staff) -> None:
    alice = usage_data["alice"]
    html = _client(staff).get(reverse("usage:report"), {"preset": "7d", "user": alice.username}).content.decode()
    drill = html.split('id="drill"', 1)[1].split("</section>", 1)[0]
    assert "alice · by model" in drill
    assert set(re.findall(r'data-key="([^"]+)"', drill)) == {"grok-4-fast-reasoning", "grok-code-fast-1", "grok-3-mini"}


@pytest.mark.parametrize(("query", "message"), [
    ({"from": "2026-13-01"}, "YYYY-MM-DD"),
    ({"from": "yesterday"}, "YYYY-MM-DD"),
    ({"from": "2026-03-10", "to": "2026-03-01"}, "after"),
    ({"from": "2020-01-01", "to": "2026-01-01"}, "at most"),
    ({"group_by": "planet"}, "group_by"),
    ({"format": "xml"}, "format"),
])
def test_bad_report_parameters_get_a_clear_400(staff, query, message) -> None:
    answer = _client(staff).get("/api/usage/report", query)
    assert answer.status_code == 400 and message in answer.json()["detail"]


def test_a_bad_range_on_the_page_says_so_and_shows_this_month(usage_data, staff) -> None:
    answer = _client(staff).get(reverse("usage:report"), {"from": "2026-03-10", "to": "2026-03-01"})
    assert answer.status_code == 400 and "after the end date" in answer.content.decode()
    assert _client(usage_data["bob"]).get("/api/usage/me", {"to": "nope"}).status_code == 400


def test_conversation_usage_totals_every_row_of_the_conversation_only_for_its_owner(make_user, record) -> None:
    from chat.models import Conversation

    alice, bob = make_user("alice"), make_user("bob")
    conversation = Conversation.objects.create(owner=alice)
    record(alice, "grok-4-fast-reasoning", prompt=165, cached=164, visible=2, reasoning=129, conversation=conversation)
    record(alice, "grok-4-fast-reasoning", prompt=10, visible=5, purpose="title", conversation=conversation)
    record(alice, "grok-4-fast-reasoning", prompt=999)  # another conversation's call
    mine = _client(alice).get(f"/api/usage/conversations/{conversation.id}").json()
    assert mine == {"calls": 2, "tokens": 296 + 15, "cost_usd": "0.0000784"}  # 739000 + 10 x 0.20 + 5 x 0.50
    detail = _client(alice).get(f"/api/conversations/{conversation.id}/").json()
    assert detail["usage"] == mine
    assert _client(bob).get(f"/api/usage/conversations/{conversation.id}").status_code == 404


def _shown(section: str) -> list[tuple[str, int, str]]:
    """(key, requests, exact cost) of each row of one table on the page."""
    found = re.findall(r'data-key="([^"]+)".*?data-col="requests">([\d,]+)<.*?data-usd="([^"]+)"', section, re.S)
    return [(k.replace("&amp;", "&"), int(n.replace(",", "")), c) for k, n, c in found]


def test_every_table_on_the_page_has_a_csv_with_the_same_rows(usage_data, staff) -> None:
    client = _client(staff)
    alice = usage_data["alice"]
    html = client.get(reverse("usage:report"), {"preset": "7d", "user": alice.username}).content.decode()
    drill = _shown(html.split('id="drill"', 1)[1].split("</section>", 1)[0])
    rows = _csv(client.get(reverse("usage:report_csv"), {"preset": "7d", "table": "model", "user": alice.username}))
    assert drill == [(r["key"], int(r["requests"]), r["cost_usd"]) for r in rows] != []
    # The user x model CSV has the drill-down's rows for each user.
    every = _csv(client.get(reverse("usage:report_csv"), {"preset": "7d", "table": "user_model"}))
    assert [(r["key"].split("/", 1)[1], int(r["requests"]), r["cost_usd"]) for r in every
            if r["key"].startswith("alice/")] == drill
    assert {r["key"].split("/")[0] for r in every} == {"alice", "bob"}
    ledger = _csv(client.get(reverse("usage:report_csv"), {"preset": "7d", "table": "ledger", "user": alice.username,
                                                            "model": "grok-code-fast-1"}))
    assert [(r["user"], r["model"], r["reconciles"]) for r in ledger] == [("alice", "grok-code-fast-1", "False")]
    missing = client.get(reverse("usage:report_csv"), {"table": "ledger", "user": "nobody"})
    assert missing.status_code == 400 and b"username" in missing.content


def test_report_keys_are_names_never_database_ids(usage_data, staff, today) -> None:
    client = _client(staff)
    query = {"from": str(today - dt.timedelta(days=6)), "to": str(today)}
    users = client.get("/api/usage/report", {**query, "group_by": "user"}).json()
    assert {r["key"] for r in users} == {"alice", "bob"}
    providers = client.get("/api/usage/report", {**query, "group_by": "provider"}).json()
    assert [r["key"] for r in providers] == ["Built-in emulator"]


def test_a_member_cannot_reach_another_members_usage(usage_data) -> None:
    bob = _client(usage_data["bob"])
    rows = _csv(bob.get(reverse("usage:me_csv"), {"table": "ledger", "preset": "7d", "user": "alice"}))
    assert {r["user"] for r in rows} == {"bob"}
    page = bob.get(reverse("usage:me"), {"preset": "7d", "user": "alice"}).content.decode()
    assert "grok-code-fast-1" not in page
    assert bob.get(reverse("usage:report"), {"user": "alice"}).status_code == 403


def test_my_usage_is_shown_against_my_budget(make_user, record, today) -> None:
    from decimal import Decimal

    carol = make_user("carol", budget_usd=Decimal("0.01"))
    record(carol, "grok-4-0709", today, prompt=1000, visible=100)  # 1000 x $3 + 100 x $15 per million
    client = _client(carol)
    budget = client.get("/api/usage/me").json()["budget"]
    assert budget == client.get("/api/me/budget/").json()["budget"]  # one shape for one budget
    resets_at = budget.pop("resets_at")
    assert budget == {"source": "user", "limit_usd": "0.01", "spent_usd": "0.0045", "remaining_usd": "0.0055",
                      "limit_tokens": None, "spent_tokens": 1100, "remaining_tokens": None, "fraction": 0.45,
                      "warning": False, "exceeded": False}
    assert resets_at.startswith(f"{today.year + today.month // 12}-{today.month % 12 + 1:02d}-01")
    page = client.get(reverse("usage:me")).content.decode()
    assert 'aria-valuenow="45"' in page and "$0.0045 of $0.01" in page and "Your personal monthly budget" in page


@pytest.mark.django_db(transaction=True)
async def test_csv_streams_asynchronously_under_asgi(make_user, record, today) -> None:
    """Under ASGI (daphne) Django would read a sync iterator whole first: exports hand it an async one."""
    from asgiref.sync import sync_to_async
    from django.test import AsyncClient

    dave = await sync_to_async(make_user)("dave", is_staff=True)
    for hour in range(3):
        await sync_to_async(record)(dave, "grok-4-fast-reasoning", today, hour=hour, prompt=100 + hour)
    client = AsyncClient()
    await sync_to_async(client.force_login)(dave)
    answer = await client.get(reverse("usage:report_csv"), {"table": "ledger", "preset": "today"})
    assert answer.status_code == 200 and answer.is_async
    text = b"".join([part async for part in answer.streaming_content]).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(int(r["prompt_tokens"]) for r in rows) == [100, 101, 102] and {r["user"] for r in rows} == {"dave"}
    by_user = await client.get("/api/usage/report", {"group_by": "user", "format": "csv"})
    assert by_user.is_async
    assert "dave" in b"".join([part async for part in by_user.streaming_content]).decode()
